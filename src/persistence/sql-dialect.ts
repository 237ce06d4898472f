import type { DataSource } from 'typeorm';

/** The SQL the module writes by hand (atomic upserts, claims) comes in these three dialects. */
export type SqlDialect = 'postgres' | 'sqlite' | 'mysql';

/**
 * The dialect of a TypeORM DataSource, decided once for every store that writes its own SQL (the throttle's
 * counters, the DPoP replay claims) and for the migration set a missing table names. Any other database fails
 * with the store's name (`what`) and the three that are supported.
 */
export function sqlDialectOf(dataSource: DataSource, what: string): SqlDialect {
  const type = dataSource.options.type as string;
  if (type === 'postgres' || type === 'cockroachdb') return 'postgres';
  if (type === 'mysql' || type === 'mariadb') return 'mysql';
  if (type === 'better-sqlite3' || type === 'sqlite' || type === 'sqljs' || type === 'capacitor' || type === 'expo') return 'sqlite';
  throw new Error(`${what}: unsupported database type "${type}" (PostgreSQL, MySQL/MariaDB or SQLite)`);
}
