export type AuditEventType =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'token.refreshed'
  | 'refresh.reuse_detected'
  | 'token.revoked'
  | 'session.ended'
  | 'access.denied'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'api_key.rejected';

/** One audit event. Never carries a token, a key, a password or a hash. */
export interface AuditEvent {
  type: AuditEventType;
  at: Date;
  userId?: string;
  username?: string;
  sessionId?: string;
  jti?: string;
  apiKeyId?: string;
  ip?: string;
  reason?: string;
  route?: string;
  required?: string;
}

export interface AuditSink {
  emit(event: AuditEvent): void | Promise<void>;
}
