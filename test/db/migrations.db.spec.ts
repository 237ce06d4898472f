import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { DataSource } from 'typeorm';
import { enabledDatabases } from '../support/databases.js';

describe.each(enabledDatabases())('migrations on $name', (target) => {
  test('running them on an empty database yields exactly the entities schema, and revert removes it', async () => {
    await target.reset();
    const ds = await new DataSource(target.options()).initialize();
    try {
      const applied = await ds.runMigrations();
      expect(applied).toHaveLength(2);
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);

      await ds.undoLastMigration();
      await ds.undoLastMigration();
      const tables = await ds
        .createQueryRunner()
        .getTables(['auth_sessions', 'auth_revoked_tokens', 'auth_user_cutoffs', 'auth_session_rotations', 'auth_api_keys']);
      expect(tables).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });
});
