/** The public codes of API.md. Each maps to one status and one message (errors/messages.ts). */
export type AuthErrorCode =
  | 'token_missing'
  | 'token_invalid'
  | 'token_expired'
  | 'token_revoked'
  | 'api_key_invalid'
  | 'permission_denied'
  | 'invalid_credentials'
  | 'csrf_failed'
  | 'too_many_attempts'
  | 'auth_busy'
  | 'auth_unavailable';

/**
 * The one failure type of the core: the verifier, the stores, the services and
 * the guards throw it, and one mapper per transport turns it into that
 * transport's answer. `code` is public; `reason` is finer (bad signature,
 * wrong audience, store timeout…) and goes to logs and audit only, never to a
 * client. Neither ever holds a token, a key or a password.
 */
export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    /** Internal detail, snake_case; defaults to the code. */
    readonly reason: string = code,
    /** For 429/503: seconds the client should wait before trying again. */
    readonly retryAfterSeconds?: number,
    /** A message that replaces the table's, for misuse of the API by the app itself (never about a credential). */
    readonly detail?: string,
  ) {
    super(`${code}: ${reason}`);
    this.name = 'AuthError';
  }
}

/** A configuration that cannot work: thrown while the app boots, naming the option. */
export class AuthConfigError extends Error {
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`AuthModule option "${option}": ${problem}`);
    this.name = 'AuthConfigError';
  }
}
