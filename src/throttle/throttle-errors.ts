import { AuthError } from '../errors/auth-error.js';

/**
 * The two refusals that tell a client to come back later: `AuthError`s like
 * every other refusal, with `retryAfterSeconds` always set. Each transport's
 * mapper answers them (on HTTP a 429 `HttpException` / a 503
 * `ServiceUnavailableException` with `Retry-After`, elsewhere `retryAfter`).
 */
export interface RetryLater {
  readonly code: 'too_many_attempts' | 'auth_busy';
  readonly retryAfterSeconds: number;
  /** Internal, for logs and audit; never in the response. */
  readonly reason: string;
}

/** 429 `too_many_attempts`: over a login or refresh limit. */
export class TooManyAttemptsException extends AuthError implements RetryLater {
  declare readonly code: 'too_many_attempts';
  declare readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, reason: string) {
    super('too_many_attempts', reason, retryAfterSeconds);
    this.name = 'TooManyAttemptsException';
  }
}

/** 503 `auth_busy`: the password checks are all taken. */
export class AuthBusyException extends AuthError implements RetryLater {
  declare readonly code: 'auth_busy';
  declare readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, reason: string) {
    super('auth_busy', reason, retryAfterSeconds);
    this.name = 'AuthBusyException';
  }
}

/**
 * The client went away while its login waited: nobody reads the answer, so no
 * hash is computed for it. A 503 like a full queue, so nothing logs it as a crash.
 */
export class ClientGoneError extends AuthBusyException {
  constructor() {
    super(1, 'client_gone');
    this.name = 'ClientGoneError';
  }
}

export function isRetryLater(err: unknown): err is RetryLater & AuthError {
  return err instanceof TooManyAttemptsException || err instanceof AuthBusyException;
}
