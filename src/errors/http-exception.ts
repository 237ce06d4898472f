import { ForbiddenException, HttpException, HttpStatus, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { AuthError, type AuthErrorCode } from './auth-error.js';
import { AUTH_ERROR_MESSAGES, AUTH_ERROR_STATUS } from './messages.js';

/** The body of every auth failure on HTTP: Nest's usual shape plus `code`. */
export interface AuthErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: AuthErrorCode;
}

/**
 * The HTTP answer of an `AuthError`: Nest's own exception classes, so an app's
 * filters and tests can use `instanceof UnauthorizedException` and friends.
 */
export function toHttpException(err: AuthError): HttpException {
  const status = AUTH_ERROR_STATUS[err.code];
  const message = err.detail ?? AUTH_ERROR_MESSAGES[err.code];
  const body = (error: string): AuthErrorBody => ({ statusCode: status, error, message, code: err.code });
  let exception: HttpException;
  switch (status) {
    case 401:
      exception = new UnauthorizedException(body('Unauthorized'));
      break;
    case 403:
      exception = new ForbiddenException(body('Forbidden'));
      break;
    case 503:
      exception = new ServiceUnavailableException(body('Service Unavailable'));
      break;
    default:
      exception = new HttpException(body('Too Many Requests'), HttpStatus.TOO_MANY_REQUESTS);
  }
  // `code` on the exception too, so `catch (e) { e.code }` and `rejects.toMatchObject({ code })` read it directly.
  Object.assign(exception, { code: err.code });
  // The refusal itself, hidden (not enumerable, not in the body): where the exception was thrown without knowing
  // its transport (a resolver or a gateway with `requestContext: false`), that transport's mapper recovers it.
  Object.defineProperty(exception, BORNE, { value: err });
  return exception;
}

const BORNE = Symbol('nest-auth:refusal');

/** The `AuthError` an exception of `toHttpException` was built from; undefined for anything else. */
export function refusalBorneBy(err: unknown): AuthError | undefined {
  const borne = typeof err === 'object' && err !== null ? (err as Record<symbol, unknown>)[BORNE] : undefined;
  return borne instanceof AuthError ? borne : undefined;
}

/**
 * `WWW-Authenticate` of a bearer failure (RFC 6750 §3.1): no `error` attribute
 * when the request carried no token, `invalid_token` when it carried one.
 */
export const BEARER_CHALLENGE = 'Bearer';
export const BEARER_INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';
