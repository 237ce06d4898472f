import { AuthTablesMysql1764000000000 } from './mysql.js';
import { AuthTablesPostgres1764000000000 } from './postgres.js';
import { AuthTablesSqlite1764000000000 } from './sqlite.js';

/**
 * The module's migrations, per database: add the list of yours to your
 * DataSource's `migrations` (e.g. `migrations: [...authMigrations.postgres, ...yours]`).
 */
export const authMigrations = {
  sqlite: [AuthTablesSqlite1764000000000],
  postgres: [AuthTablesPostgres1764000000000],
  mysql: [AuthTablesMysql1764000000000],
};
