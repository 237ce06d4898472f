import type { AuthErrorCode } from './auth-error.js';

/** What a client is told for each code: one sentence, the same on every transport. */
export const AUTH_ERROR_MESSAGES: Readonly<Record<AuthErrorCode, string>> = {
  token_missing: 'Authentication is required',
  token_invalid: 'The credentials are invalid',
  token_expired: 'The token has expired',
  token_revoked: 'The token has been revoked',
  api_key_invalid: 'Invalid API key',
  permission_denied: 'You do not have permission to perform this action',
  invalid_credentials: 'Invalid username or password',
  csrf_failed: 'The CSRF check failed',
  too_many_attempts: 'Too many attempts: try again later',
  auth_busy: 'Too many logins at once: try again shortly',
  auth_unavailable: 'Authentication is temporarily unavailable',
};

/** The status each code has on HTTP (and the status field of the other transports' error bodies). */
export const AUTH_ERROR_STATUS: Readonly<Record<AuthErrorCode, number>> = {
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  api_key_invalid: 401,
  invalid_credentials: 401,
  permission_denied: 403,
  csrf_failed: 403,
  too_many_attempts: 429,
  auth_busy: 503,
  auth_unavailable: 503,
};
