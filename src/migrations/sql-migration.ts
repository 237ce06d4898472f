import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { tablePath } from '../persistence/table-path.js';

/** A quoted name of one of the module's tables in the fixed SQL: `"auth_sessions"` or `` `auth_sessions` ``. */
const TABLE = /(["`])(auth_(?:sessions|session_rotations|revoked_tokens|user_cutoffs|api_keys|revocation_log|throttle_counters|dpop_proofs))\1/g;

/**
 * A migration that runs fixed SQL: what each database gets is written out, never generated at run time. Only the
 * table names are the DataSource's: each quoted `auth_*` table name is replaced by the table's path in that
 * DataSource (`entityPrefix`, PostgreSQL `schema`), so the tables land where the entities (and so the stores) look.
 * Index and constraint names stay as written: they are the names the entities declare.
 */
export function sqlMigration(name: string, up: readonly string[], down: readonly string[]): new () => MigrationInterface {
  return class implements MigrationInterface {
    readonly name = name;
    async up(runner: QueryRunner): Promise<void> {
      for (const statement of up) await runner.query(placed(runner.connection, statement));
    }
    async down(runner: QueryRunner): Promise<void> {
      for (const statement of down) await runner.query(placed(runner.connection, statement));
    }
  };
}

function placed(dataSource: DataSource, statement: string): string {
  return statement.replace(TABLE, (_, _quote: string, table: string) => tablePath(dataSource, table));
}
