import { entitySchema } from '../persistence/entity-schema.js';
import { idColumn, timeColumn } from '../persistence/columns.js';

export interface RevokedTokenRow {
  jti: string;
  expiresAt: Date;
  revokedAt: Date;
  userId: string | null;
  reason: string | null;
}

export const RevokedTokenEntity = entitySchema<RevokedTokenRow>({
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

export const UserCutoffEntity = entitySchema<UserCutoffRow>({
  name: 'AuthUserCutoff',
  tableName: 'auth_user_cutoffs',
  columns: {
    userId: idColumn('user_id', { primary: true }),
    cutoffAt: timeColumn('cutoff_at'),
    updatedAt: timeColumn('updated_at'),
  },
  indices: [{ name: 'IDX_auth_user_cutoffs_updated_at', columns: ['updatedAt'] }],
});

/** What a change-log row says: a revoked token id, an ended session, or a user's cut-off. */
export type RevocationChangeKind = 'jti' | 'session' | 'cutoff';

export interface RevocationLogRow {
  /** Assigned by the database, increasing: the cursor the gate polls by, whatever the writers' clocks say. */
  seq: number;
  kind: RevocationChangeKind;
  /** jti, session id or user id. */
  subject: string;
  /** jti: the token's expiry; session: when it ended; cutoff: the cut-off. */
  at: Date;
}

const seqNumber = {
  to: (value: number | undefined) => value,
  from: (value: string | number) => Number(value),
};

/**
 * One row per revocation, ended session and cut-off, written in the same
 * transaction as the change itself. Polling `seq > cursor` needs no clock at all.
 */
export const RevocationLogEntity = entitySchema<RevocationLogRow>({
  name: 'AuthRevocationLog',
  tableName: 'auth_revocation_log',
  columns: {
    seq: { name: 'seq', type: 'integer', primary: true, generated: 'increment', transformer: seqNumber },
    kind: { name: 'kind', type: 'varchar', length: 8 },
    subject: idColumn('subject'),
    at: timeColumn('at'),
  },
  indices: [{ name: 'IDX_auth_revocation_log_kind_at', columns: ['kind', 'at'] }],
});
