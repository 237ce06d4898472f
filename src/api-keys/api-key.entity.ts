import { entitySchema } from '../persistence/entity-schema.js';
import { idColumn, timeColumn } from '../persistence/columns.js';

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
  permissions: string;
  userId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export const ApiKeyEntity = entitySchema<ApiKeyRow>({
  name: 'AuthApiKey',
  tableName: 'auth_api_keys',
  columns: {
    id: idColumn('id', { primary: true }),
    name: { name: 'name', type: 'varchar', length: 150 },
    prefix: { name: 'prefix', type: 'varchar', length: 32 },
    secretHash: { name: 'secret_hash', type: 'varchar', length: 64 },
    // JSON text: portable across SQLite, PostgreSQL and MariaDB.
    permissions: { name: 'permissions', type: 'text' },
    userId: idColumn('user_id', { nullable: true, default: null }),
    createdAt: timeColumn('created_at'),
    expiresAt: timeColumn('expires_at', true),
    lastUsedAt: timeColumn('last_used_at', true),
    revokedAt: timeColumn('revoked_at', true),
  },
  uniques: [{ name: 'UQ_auth_api_keys_prefix', columns: ['prefix'] }],
});
