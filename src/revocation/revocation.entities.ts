import { EntitySchema } from 'typeorm';
import { idColumn, timeColumn } from '../store/columns.js';

export interface RevokedTokenRow {
  jti: string;
  expiresAt: Date;
  revokedAt: Date;
  userId: string | null;
  reason: string | null;
}

export const RevokedTokenEntity = new EntitySchema<RevokedTokenRow>({
  name: 'AuthRevokedToken',
  tableName: 'auth_revoked_tokens',
  columns: {
    jti: idColumn('jti', { primary: true }),
    expiresAt: timeColumn('expires_at'),
    revokedAt: timeColumn('revoked_at'),
    userId: idColumn('user_id', { nullable: true, default: null }),
    reason: { name: 'reason', type: 'varchar', length: 32, nullable: true, default: null },
  },
  indices: [
    { name: 'IDX_auth_revoked_tokens_revoked_at', columns: ['revokedAt'] },
    { name: 'IDX_auth_revoked_tokens_expires_at', columns: ['expiresAt'] },
  ],
});

export interface UserCutoffRow {
  userId: string;
  cutoffAt: Date;
  updatedAt: Date;
}

export const UserCutoffEntity = new EntitySchema<UserCutoffRow>({
  name: 'AuthUserCutoff',
  tableName: 'auth_user_cutoffs',
  columns: {
    userId: idColumn('user_id', { primary: true }),
    cutoffAt: timeColumn('cutoff_at'),
    updatedAt: timeColumn('updated_at'),
  },
  indices: [{ name: 'IDX_auth_user_cutoffs_updated_at', columns: ['updatedAt'] }],
});
