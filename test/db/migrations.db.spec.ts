import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { DataSource } from 'typeorm';
import { authMigrations } from '../../src/index.js';
import { enabledDatabases } from '../support/databases.js';

describe.each(enabledDatabases())('migrations on $name', (target) => {
  test('running them on an empty database yields exactly the entities schema, and revert removes it', async () => {
    await target.reset();
    const ds = await new DataSource(target.options()).initialize();
    try {
      const applied = await ds.runMigrations();
      expect(applied).toHaveLength(authMigrations[target.name].length);
      const pending = await ds.driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);

      for (let i = 0; i < applied.length; i++) await ds.undoLastMigration();
      const tables = await ds
        .createQueryRunner()
        .getTables(['auth_sessions', 'auth_revoked_tokens', 'auth_user_cutoffs', 'auth_session_rotations', 'auth_api_keys', 'auth_revocation_log']);
      expect(tables).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });
});
