import { entitySchema } from '../persistence/entity-schema.js';
import { idColumn, timeColumn } from '../persistence/columns.js';
import type { SessionRecord } from './session-store.js';

/** A session as stored: the record, with the optional columns as SQL NULLs and why it ended. */
export interface SessionRow extends Omit<SessionRecord, 'userAgent' | 'ip'> {
  endReason: string | null;
  userAgent: string | null;
  ip: string | null;
}

export const SessionEntity = entitySchema<SessionRow>({
  name: 'AuthSession',
  tableName: 'auth_sessions',
  columns: {
    id: idColumn('id', { primary: true }),
    userId: idColumn('user_id'),
    currentJti: idColumn('current_jti'),
    createdAt: timeColumn('created_at'),
    lastUsedAt: timeColumn('last_used_at'),
    expiresAt: timeColumn('expires_at'),
    endedAt: timeColumn('ended_at', true),
    endReason: { name: 'end_reason', type: 'varchar', length: 32, nullable: true, default: null },
    userAgent: { name: 'user_agent', type: 'varchar', length: 512, nullable: true, default: null },
    ip: { name: 'ip', type: 'varchar', length: 64, nullable: true, default: null },
  },
  indices: [
    { name: 'IDX_auth_sessions_user', columns: ['userId'] },
    { name: 'IDX_auth_sessions_ended', columns: ['endedAt'] },
  ],
});

export interface SessionRotationRow {
  sessionId: string;
  jti: string;
  rotatedAt: Date;
}

/** Refresh token ids rotated out of a session: tells reuse from forgery, and dates it for the grace period. */
export const SessionRotationEntity = entitySchema<SessionRotationRow>({
  name: 'AuthSessionRotation',
  tableName: 'auth_session_rotations',
  columns: {
    sessionId: idColumn('session_id', { primary: true }),
    jti: idColumn('jti', { primary: true }),
    rotatedAt: timeColumn('rotated_at'),
  },
});
