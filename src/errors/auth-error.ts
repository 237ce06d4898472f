/** The codes of API.md's HTTP table. One place maps each to its status. */
export type AuthErrorCode =
  | 'token_missing'
  | 'token_invalid'
  | 'token_expired'
  | 'token_revoked'
  | 'api_key_invalid'
  | 'permission_denied'
  | 'invalid_credentials'
  | 'auth_unavailable'
  | 'csrf_failed';

/**
 * A failure inside the auth core. Thrown by the verifier, the stores and the
 * service; turned into an HTTP answer only by `toHttpException`.
 * `message` is safe to return to the client: it never holds a token, a key or a password.
 */
export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
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
