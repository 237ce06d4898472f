import { ApiKeysMysql1764000000001, AuthTablesMysql1764000000000, RevocationLogMysql1766000000000 } from './mysql.js';
import { ApiKeysPostgres1764000000001, AuthTablesPostgres1764000000000, RevocationLogPostgres1766000000000 } from './postgres.js';
import { ApiKeysSqlite1764000000001, AuthTablesSqlite1764000000000, RevocationLogSqlite1766000000000 } from './sqlite.js';
import {
  ThrottleCountersMysql1764000000002,
  ThrottleCountersPostgres1764000000002,
  ThrottleCountersSqlite1764000000002,
} from './throttle-counters.js';
import { DpopProofsMysql1767000000000, DpopProofsPostgres1767000000000, DpopProofsSqlite1767000000000 } from './dpop-proofs.js';

/**
 * The module's migrations, per database, oldest first: add the list to your
 * DataSource's `migrations` (e.g. `migrations: [...authMigrations.postgres, ...yours]`).
 */
export const authMigrations = {
  sqlite: [
    AuthTablesSqlite1764000000000,
    ApiKeysSqlite1764000000001,
    ThrottleCountersSqlite1764000000002,
    RevocationLogSqlite1766000000000,
    DpopProofsSqlite1767000000000,
  ],
  postgres: [
    AuthTablesPostgres1764000000000,
    ApiKeysPostgres1764000000001,
    ThrottleCountersPostgres1764000000002,
    RevocationLogPostgres1766000000000,
    DpopProofsPostgres1767000000000,
  ],
  mysql: [
    AuthTablesMysql1764000000000,
    ApiKeysMysql1764000000001,
    ThrottleCountersMysql1764000000002,
    RevocationLogMysql1766000000000,
    DpopProofsMysql1767000000000,
  ],
};
