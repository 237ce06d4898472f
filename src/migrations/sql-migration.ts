import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A migration that runs fixed SQL: what each database gets is written out, never generated at run time. */
export function sqlMigration(name: string, up: readonly string[], down: readonly string[]): new () => MigrationInterface {
  return class implements MigrationInterface {
    readonly name = name;
    async up(runner: QueryRunner): Promise<void> {
      for (const statement of up) await runner.query(statement);
    }
    async down(runner: QueryRunner): Promise<void> {
      for (const statement of down) await runner.query(statement);
    }
  };
}
