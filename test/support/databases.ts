/**
 * The databases the DB suites run on. SQLite (better-sqlite3, a file in a
 * temp folder) always; PostgreSQL when AUTH_TEST_POSTGRES_URL is set and
 * MariaDB/MySQL when AUTH_TEST_MYSQL_URL is set (.ci/run sets both). A suite
 * does `describe.each(enabledDatabases())` and the skipped ones are printed once.
 *
 * The URLs name a server (and a database on it to connect to for admin
 * statements): no suite writes there. `target.reset()` gives the target a new,
 * empty database of its own (a new temp file for SQLite, `CREATE DATABASE
 * auth_t_<pid>_<random>` on a server), so parallel workers and other people's
 * runs never share tables; `target.options()` gives DataSourceOptions (entities
 * and migrations included) for that database. Every database a suite created
 * is dropped after the suite, by a root-level afterAll this module registers
 * when the spec imports it: it runs after the afterAll hooks of the spec's
 * describe blocks, so close the apps there (or in the test itself).
 */
import { afterAll } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { authEntities, authMigrations } from '../../src/index.js';
import { enableHint, serviceUrl, suiteName, type TestService } from './services.js';

export interface DbTarget {
  name: 'sqlite' | 'postgres' | 'mysql';
  options(extra?: { entities?: DataSourceOptions['entities'] }): DataSourceOptions;
  /** Points the target at a new, empty database (call it before options() on a server target). */
  reset(): Promise<void>;
}

/** What this suite created, dropped once its tests (and their own afterAll hooks) are done. */
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw new AggregateError(failures, 'dropping the test databases failed');
});

const entitiesWith = (extra: { entities?: DataSourceOptions['entities'] }) =>
  [...authEntities, ...((extra.entities as unknown[]) ?? [])] as DataSourceOptions['entities'];

function sqliteTarget(): DbTarget {
  const newFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'nest-auth-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return join(dir, 'auth.sqlite');
  };
  let file = newFile();
  return {
    name: 'sqlite',
    options: (extra = {}) => ({ type: 'better-sqlite3', database: file, entities: entitiesWith(extra), migrations: authMigrations.sqlite }),
    reset: async () => {
      file = newFile();
    },
  };
}

/** A name no other run or suite uses: for databases, and for pub/sub channels on shared servers. */
export const uniqueTestName = (prefix: string) => `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`;

/**
 * Creates a new, empty database on the server `serverUrl` names (connecting
 * to the database in that URL for the statement) and returns the URL of the
 * new one; it is dropped after the suite.
 */
export async function createTestDatabase(kind: 'postgres' | 'mysql', serverUrl: string): Promise<string> {
  const type = typeOrmType(kind);
  const admin = async (sql: string) => {
    const ds = await new DataSource({ type, url: serverUrl } as DataSourceOptions).initialize();
    try {
      await ds.query(sql);
    } finally {
      await ds.destroy();
    }
  };
  const name = uniqueTestName('auth_t');
  const quoted = kind === 'mysql' ? `\`${name}\`` : `"${name}"`;
  await admin(`CREATE DATABASE ${quoted}`);
  // FORCE: a connection a failed test left open must not keep the database alive.
  cleanups.push(() => admin(`DROP DATABASE IF EXISTS ${quoted}${kind === 'postgres' ? ' WITH (FORCE)' : ''}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

// MariaDB reports column defaults its own way: TypeORM must be told which server it talks to.
const typeOrmType = (kind: 'postgres' | 'mysql') => (kind === 'mysql' && process.env.AUTH_TEST_MYSQL_FLAVOR !== 'mysql' ? 'mariadb' : kind);

function serverTarget(name: 'postgres' | 'mysql', serverUrl: string): DbTarget {
  let url: string | undefined;
  return {
    name,
    options: (extra = {}) => {
      if (url === undefined) throw new Error(`${name}: call target.reset() first, it creates the suite's own database`);
      return { type: typeOrmType(name), url, entities: entitiesWith(extra), migrations: authMigrations[name] } as DataSourceOptions;
    },
    reset: async () => {
      url = await createTestDatabase(name, serverUrl);
    },
  };
}

let announced = false;

/**
 * The targets this run can reach; prints once which ones are skipped and why
 * (`quiet`: the suite prints its own one line, e.g. with `runnableVariants`).
 */
export function enabledDatabases(options: { quiet?: boolean } = {}): DbTarget[] {
  const targets: DbTarget[] = [sqliteTarget()];
  const skipped: TestService[] = [];
  const pg = serviceUrl('postgres');
  const my = serviceUrl('mysql');
  if (pg) targets.push(serverTarget('postgres', pg));
  else skipped.push('postgres');
  if (my) targets.push(serverTarget('mysql', my));
  else skipped.push('mysql');
  if (skipped.length > 0 && !announced && !options.quiet) {
    announced = true;
    const names = skipped.map((s) => (s === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL')).join(' and ');
    process.stdout.write(`[skipped] ${suiteName()}, on ${names}: ${skipped.map(enableHint).join(' and ')} (bash .ci/run sets them all)\n`);
  }
  return targets;
}

/** A DataSource on the target with the module's migrations run. */
export async function migratedDataSource(target: DbTarget, extra?: { entities?: DataSourceOptions['entities'] }): Promise<DataSource> {
  const ds = await new DataSource(target.options(extra)).initialize();
  await ds.runMigrations();
  return ds;
}
