import type { AuthError } from '../errors/auth-error.js';
import { AuthHttpException } from '../errors/http-errors.js';
import { bodyOf } from './transport-error.js';

/**
 * INTEGRATION: stands in for the lead's `toHttpException(err)` from
 * `src/errors/http-exception.ts` until it lands on main; then this file goes.
 */
export function toHttpException(err: AuthError): Error {
  const body = bodyOf(err);
  return new AuthHttpException(body.code, body.message);
}
