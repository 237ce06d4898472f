import type { Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { AuthConfigError } from '../errors/auth-error.js';

/** What a store needs from the app's DataSource, and the option a failure names. */
export interface DataSourceNeed {
  /** The DataSource's name in `TypeOrmModule.forRoot({ name })`; `'default'` when unnamed. */
  name: string;
  /**
   * The option of the store that needs it, named when the entity is missing; a missing package or DataSource
   * names `store`, the option that names the DataSource of every TypeORM store.
   */
  option: string;
  /** What the store keeps there, for the errors: "the login throttle's counters", "DPoP proofs". */
  holds: string;
  /** An entity the store writes: the boot fails if the DataSource was not given `authEntities`. */
  entity?: EntityTarget<ObjectLiteral>;
}

/**
 * The app's TypeORM DataSource, found through Nest's container (`@nestjs/typeorm`'s token), whatever the
 * order of the app's imports: the one lookup every TypeORM-backed store of the module uses (sessions and
 * revocations, the login throttle, the DPoP replay store), so a missing package, a missing `forRoot()` or a
 * DataSource without `authEntities` fails the boot with one message naming the option.
 */
export async function appDataSource(moduleRef: ModuleRef, need: DataSourceNeed): Promise<DataSource> {
  const { name, option, holds, entity } = need;
  let token: unknown;
  try {
    token = (await import('@nestjs/typeorm')).getDataSourceToken(name);
  } catch {
    throw new AuthConfigError('store', "'typeorm' needs typeorm and @nestjs/typeorm installed, and TypeOrmModule.forRoot() in the app");
  }
  let dataSource: DataSource | undefined;
  try {
    dataSource = moduleRef.get(token as Type<DataSource>, { strict: false });
  } catch {
    dataSource = undefined;
  }
  if (!dataSource) {
    const forRoot = `TypeOrmModule.forRoot(${name === 'default' ? '' : `{ name: '${name}' }`})`;
    throw new AuthConfigError(
      'store',
      `'typeorm' needs the app's DataSource "${name}" (${forRoot} with authEntities among its entities) for ${holds}`,
    );
  }
  if (entity && !dataSource.hasMetadata(entity)) {
    throw new AuthConfigError(option, `the DataSource "${name}" does not know the entity of ${holds}: add ...authEntities to its \`entities\``);
  }
  return dataSource;
}
