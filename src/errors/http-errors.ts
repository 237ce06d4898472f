import { HttpException, HttpStatus } from '@nestjs/common';
import type { AuthErrorCode } from './auth-error.js';

const STATUS: Readonly<Record<AuthErrorCode, number>> = {
  token_missing: HttpStatus.UNAUTHORIZED,
  token_invalid: HttpStatus.UNAUTHORIZED,
  token_expired: HttpStatus.UNAUTHORIZED,
  token_revoked: HttpStatus.UNAUTHORIZED,
  api_key_invalid: HttpStatus.UNAUTHORIZED,
  invalid_credentials: HttpStatus.UNAUTHORIZED,
  permission_denied: HttpStatus.FORBIDDEN,
  auth_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
  csrf_failed: HttpStatus.FORBIDDEN,
};

const ERROR_NAME: Readonly<Record<number, string>> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  503: 'Service Unavailable',
};

/** The body of every auth failure: Nest's usual shape plus `code`. */
export interface AuthErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: AuthErrorCode;
}

/** An HTTP exception whose body carries the API.md `code`. */
export class AuthHttpException extends HttpException {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    const status = STATUS[code];
    const body: AuthErrorBody = { statusCode: status, error: ERROR_NAME[status], message, code };
    super(body, status);
  }
}

/**
 * `WWW-Authenticate` of a bearer failure (RFC 6750 §3.1): no `error` attribute
 * when the request carried no token, `invalid_token` when it carried one.
 */
export const BEARER_CHALLENGE = 'Bearer';
export const BEARER_INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';
