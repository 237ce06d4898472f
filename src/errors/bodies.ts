import { AuthError, type AuthErrorCode } from './auth-error.js';
import { refusalBorneBy } from './http-exception.js';
import { AUTH_ERROR_MESSAGES, AUTH_ERROR_STATUS } from './messages.js';

/**
 * What every non-HTTP transport tells its client: the API.md `code` and its
 * public message, and for `too_many_attempts` / `auth_busy` (and a 503 that
 * says when to come back) `retryAfter` in seconds, as HTTP's `Retry-After`.
 * Nothing else (never the reason).
 */
export interface TransportErrorBody {
  code: AuthErrorCode;
  message: string;
  retryAfter?: number;
}

/**
 * The refusal an error stands for: an `AuthError`, the one an exception of
 * `toHttpException` was built from, or anything else carrying a known `code`
 * (and its `retryAfterSeconds`), as an `AuthError` that keeps the retry hint;
 * undefined for anything that is not a refusal of the module.
 */
export function refusalOf(err: unknown): AuthError | undefined {
  if (err instanceof AuthError) return err;
  const borne = refusalBorneBy(err);
  if (borne !== undefined) return borne;
  const e = err as { code?: unknown; reason?: unknown; retryAfterSeconds?: unknown } | null;
  const code = e?.code;
  if (typeof code !== 'string' || !(code in AUTH_ERROR_MESSAGES)) return undefined;
  const retry = e?.retryAfterSeconds;
  const reason = typeof e?.reason === 'string' ? e.reason : code;
  return new AuthError(code as AuthErrorCode, reason, typeof retry === 'number' && Number.isFinite(retry) ? retry : undefined);
}

/** Whole seconds, at least 1, as `Retry-After` is written; undefined without a hint. */
export function retryAfterOf(err: AuthError): number | undefined {
  const s = err.retryAfterSeconds;
  return s === undefined || !Number.isFinite(s) ? undefined : Math.max(1, Math.ceil(s));
}

export function bodyOf(err: AuthError): TransportErrorBody {
  const retryAfter = retryAfterOf(err);
  return retryAfter === undefined
    ? { code: err.code, message: AUTH_ERROR_MESSAGES[err.code] }
    : { code: err.code, message: AUTH_ERROR_MESSAGES[err.code], retryAfter };
}

/** The HTTP status of a code: socket transports close with 4000 + it. */
export function statusOf(code: AuthErrorCode): number {
  return AUTH_ERROR_STATUS[code];
}
