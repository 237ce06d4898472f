import { HttpException, HttpStatus, ServiceUnavailableException } from '@nestjs/common';

/**
 * The two answers that tell a client to come back later. Both carry
 * `retryAfterSeconds`, which `AuthService` writes as `Retry-After`.
 * When `AuthError` learns the codes `too_many_attempts` and `auth_busy`
 * (src/errors/, the lead's), these become `new AuthError(code, reason)` plus
 * `retryAfterSeconds`, mapped by `toHttpException`; the bodies stay as they are.
 */
export interface RetryLater {
  readonly code: 'too_many_attempts' | 'auth_busy';
  readonly retryAfterSeconds: number;
  /** Internal, for logs and audit; never in the response. */
  readonly reason: string;
}

export class TooManyAttemptsException extends HttpException implements RetryLater {
  readonly code = 'too_many_attempts' as const;

  constructor(
    readonly retryAfterSeconds: number,
    readonly reason: string,
  ) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: 'Too many attempts: try again later',
        code: 'too_many_attempts',
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

export class AuthBusyException extends ServiceUnavailableException implements RetryLater {
  readonly code = 'auth_busy' as const;

  constructor(
    readonly retryAfterSeconds: number,
    readonly reason: string,
  ) {
    super({
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      message: 'Too many logins at once: try again shortly',
      code: 'auth_busy',
    });
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

export function isRetryLater(err: unknown): err is RetryLater & Error {
  return err instanceof TooManyAttemptsException || err instanceof AuthBusyException;
}
