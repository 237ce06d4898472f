import { AuthError, type AuthErrorCode } from '../errors/auth-error.js';

/** What every non-HTTP transport tells its client: the API.md `code` and the public message, nothing else. */
export interface TransportErrorBody {
  code: AuthErrorCode;
  message: string;
}

const FALLBACK_MESSAGE: Readonly<Record<string, string>> = {
  token_missing: 'Authentication is required',
  token_invalid: 'Invalid token',
  token_expired: 'The token has expired',
  token_revoked: 'The token has been revoked',
  api_key_invalid: 'Invalid API key',
  permission_denied: 'You do not have permission to perform this action',
  auth_unavailable: 'Authentication is temporarily unavailable',
};

/**
 * An `AuthError`, or anything carrying its `code` (today's `AuthHttpException`),
 * as an `AuthError`. Anything else is not an auth failure: undefined.
 */
export function asAuthError(err: unknown): AuthError | undefined {
  if (err instanceof AuthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in FALLBACK_MESSAGE) {
    return new AuthError(code as AuthErrorCode, publicMessageOf(err));
  }
  return undefined;
}

/** The body a client receives. The message is the public one (never a token: AuthError messages are safe by contract). */
export function bodyOf(err: AuthError): TransportErrorBody {
  return { code: err.code, message: publicMessageOf(err) };
}

function publicMessageOf(err: unknown): string {
  const m = (err as { message?: unknown }).message;
  const code = (err as { code: string }).code;
  // The lead's AuthError keeps a snake_case reason, not a sentence: fall back to the table then.
  return typeof m === 'string' && m.length > 0 && !/^[a-z_]+$/.test(m) ? m : (FALLBACK_MESSAGE[code] ?? 'Authentication failed');
}

/** The HTTP status class of a code, shared by the close codes of socket transports (4000 + status). */
export function statusOf(code: AuthErrorCode): 401 | 403 | 503 {
  if (code === 'permission_denied') return 403;
  if (code === 'auth_unavailable') return 503;
  return 401;
}
