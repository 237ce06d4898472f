import type { DataSource } from 'typeorm';
import { TypeOrmApiKeyStore } from '../api-keys/api-key.stores.js';
import { authEntities } from './entities.js';
import { AuthConfigError } from '../errors/auth-error.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import {
  TypeOrmRevocationFeed,
  TypeOrmRevocationLedger,
  TypeOrmRevocationStore,
  TypeOrmUserCutoffStore,
} from '../revocation/typeorm-revocation.store.js';
import { SessionEntity } from '../sessions/session.entity.js';
import { TypeOrmSessionStore } from '../sessions/typeorm-session.store.js';
import { rawTablePath } from '../persistence/table-path.js';
import { sqlDialectOf } from '../persistence/sql-dialect.js';

/** Fails the boot, naming the migrations to run, when a table of the module is missing. */
export async function checkTables(dataSource: DataSource, name: string): Promise<void> {
  const runner = dataSource.createQueryRunner();
  try {
    for (const entity of authEntities) {
      // The full path: with a `schema` (or a MySQL database) the table is looked for where the stores will query it.
      const table = rawTablePath(dataSource, entity);
      if (!(await runner.hasTable(table))) {
        throw new AuthConfigError(
          'store',
          `the table ${table} is missing in DataSource "${name}": add authMigrations.${sqlDialectOf(dataSource, 'store')} to its migrations and run them (or synchronize, in development)`,
        );
      }
    }
  } finally {
    await runner.release();
  }
}

/** The TypeORM stores, in one DataSource. Loaded by dynamic import: only apps on the TypeORM store load typeorm. */
export function createTypeOrmStores(dataSource: DataSource) {
  if (!dataSource.hasMetadata(SessionEntity)) {
    throw new AuthConfigError('store', "the DataSource does not know the module's entities: add ...authEntities to its `entities`");
  }
  const revocations = new TypeOrmRevocationStore(dataSource);
  const sessions = new TypeOrmSessionStore(dataSource);
  const cutoffs = new TypeOrmUserCutoffStore(dataSource);
  return {
    revocations,
    sessions,
    cutoffs,
    apiKeys: new TypeOrmApiKeyStore(dataSource),
    feed: new TypeOrmRevocationFeed(dataSource),
    /** One transaction per revocation write, the session ends among them (the session store's `within`). */
    ledger: (custom: { revocations?: RevocationStore }) =>
      new TypeOrmRevocationLedger(dataSource, revocations, sessions, cutoffs, custom.revocations),
  };
}
