import { AuthError, type AuthErrorCode } from '../errors/auth-error.js';
import { AUTH_ERROR_MESSAGES, AUTH_ERROR_STATUS } from '../errors/messages.js';

/** What every non-HTTP transport tells its client: the API.md `code` and its public message, nothing else (never the reason). */
export interface TransportErrorBody {
  code: AuthErrorCode;
  message: string;
}

/** An `AuthError`, or anything carrying a known `code` (the HTTP exceptions of `toHttpException`), as an `AuthError`; else undefined. */
export function asAuthError(err: unknown): AuthError | undefined {
  if (err instanceof AuthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in AUTH_ERROR_MESSAGES ? new AuthError(code as AuthErrorCode) : undefined;
}

export function bodyOf(err: AuthError): TransportErrorBody {
  return { code: err.code, message: AUTH_ERROR_MESSAGES[err.code] };
}

/** The HTTP status of a code: socket transports close with 4000 + it. */
export function statusOf(code: AuthErrorCode): number {
  return AUTH_ERROR_STATUS[code];
}
