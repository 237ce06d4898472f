/**
 * The databases the DB suites run on. SQLite (better-sqlite3, a file in a
 * temp folder) always; PostgreSQL when AUTH_TEST_POSTGRES_URL is set and
 * MariaDB/MySQL when AUTH_TEST_MYSQL_URL is set (.ci/run sets both). A suite
 * does `describe.each(enabledDatabases())` and the skipped ones are printed once.
 *
 * `target.options()` gives DataSourceOptions (entities and migrations
 * included) for the target's database; `target.reset()` drops the module's
 * tables and migration history so a suite starts from an empty schema.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { authEntities, authMigrations } from '../../src/index.js';

export interface DbTarget {
  name: 'sqlite' | 'postgres' | 'mysql';
  options(extra?: { entities?: DataSourceOptions['entities'] }): DataSourceOptions;
  reset(): Promise<void>;
}

const TABLES = ['auth_session_rotations', 'auth_sessions', 'auth_revoked_tokens', 'auth_user_cutoffs', 'auth_api_keys', 'auth_revocation_log', 'auth_throttle_counters', 'migrations'];

function sqliteTarget(): DbTarget {
  let file = join(mkdtempSync(join(tmpdir(), 'nest-auth-')), 'auth.sqlite');
  return {
    name: 'sqlite',
    options: (extra = {}) => ({
      type: 'better-sqlite3',
      database: file,
      entities: [...authEntities, ...((extra.entities as unknown[]) ?? [])] as DataSourceOptions['entities'],
      migrations: authMigrations.sqlite,
    }),
    reset: async () => {
      file = join(mkdtempSync(join(tmpdir(), 'nest-auth-')), 'auth.sqlite');
    },
  };
}

function serverTarget(name: 'postgres' | 'mysql', url: string): DbTarget {
  // MariaDB reports column defaults its own way: TypeORM must be told which server it talks to.
  const type = name === 'mysql' && process.env.AUTH_TEST_MYSQL_FLAVOR !== 'mysql' ? 'mariadb' : name;
  const base = { type, url } as const;
  return {
    name,
    options: (extra = {}) => ({
      ...base,
      entities: [...authEntities, ...((extra.entities as unknown[]) ?? [])] as DataSourceOptions['entities'],
      migrations: authMigrations[name],
    }),
    reset: async () => {
      const ds = await new DataSource(base).initialize();
      try {
        for (const table of TABLES) await ds.query(`DROP TABLE IF EXISTS ${name === 'mysql' ? `\`${table}\`` : `"${table}"`}`);
      } finally {
        await ds.destroy();
      }
    },
  };
}

let announced = false;

/** The targets this run can reach; prints once which ones are skipped and why. */
export function enabledDatabases(): DbTarget[] {
  const targets: DbTarget[] = [sqliteTarget()];
  const skipped: string[] = [];
  const pg = process.env.AUTH_TEST_POSTGRES_URL;
  const my = process.env.AUTH_TEST_MYSQL_URL;
  if (pg) targets.push(serverTarget('postgres', pg));
  else skipped.push('PostgreSQL (set AUTH_TEST_POSTGRES_URL)');
  if (my) targets.push(serverTarget('mysql', my));
  else skipped.push('MariaDB/MySQL (set AUTH_TEST_MYSQL_URL)');
  if (skipped.length > 0 && !announced) {
    announced = true;
    process.stdout.write(`[databases] skipped: ${skipped.join('; ')}\n`);
  }
  return targets;
}

/** A DataSource on the target with the module's migrations run. */
export async function migratedDataSource(target: DbTarget, extra?: { entities?: DataSourceOptions['entities'] }): Promise<DataSource> {
  const ds = await new DataSource(target.options(extra)).initialize();
  await ds.runMigrations();
  return ds;
}
