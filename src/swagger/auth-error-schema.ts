import type { AuthErrorCode } from '../errors/auth-error.js';

/** Codes reserved by API.md for the next features; documented now so a client generated today knows them. */
type ReservedCode = 'too_many_attempts' | 'auth_busy' | 'csrf_failed';

/**
 * Every code the module may answer with, and its status. A `Record` over the
 * union, so a new code in `AuthErrorCode` fails the compile here until it is
 * documented.
 */
export const AUTH_ERROR_STATUS: Readonly<Record<AuthErrorCode | ReservedCode, 401 | 403 | 429 | 503>> = {
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  api_key_invalid: 401,
  invalid_credentials: 401,
  permission_denied: 403,
  csrf_failed: 403,
  too_many_attempts: 429,
  auth_unavailable: 503,
  auth_busy: 503,
};

export type DocumentedAuthCode = keyof typeof AUTH_ERROR_STATUS;

export const AUTH_ERROR_SCHEMA_NAME = 'AuthErrorBody';

const ERROR_NAME: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** The JSON schema of every auth failure's body: Nest's usual shape plus `code`. */
export function authErrorBodySchema(): Record<string, unknown> {
  return {
    type: 'object',
    description: 'The body of every authentication or authorization failure. `code` is stable; `message` is for humans.',
    required: ['statusCode', 'error', 'message', 'code'],
    properties: {
      statusCode: { type: 'integer', enum: [401, 403, 429, 503], example: 401 },
      error: { type: 'string', enum: Object.values(ERROR_NAME), example: 'Unauthorized' },
      message: { type: 'string', example: 'Authentication is required' },
      code: { type: 'string', enum: Object.keys(AUTH_ERROR_STATUS), example: 'token_missing' },
    },
  };
}

/** A response object for `status` that may carry `codes`, with an example per code. */
export function authErrorResponse(status: 401 | 403 | 429 | 503, codes: readonly DocumentedAuthCode[], headers?: Record<string, unknown>): Record<string, unknown> {
  const examples: Record<string, unknown> = {};
  for (const code of codes) {
    examples[code] = { value: { statusCode: status, error: ERROR_NAME[status], message: '…', code } };
  }
  return {
    description: `${ERROR_NAME[status]}: \`code\` is one of ${codes.map((c) => `\`${c}\``).join(', ')}`,
    ...(headers ? { headers } : {}),
    content: {
      'application/json': {
        schema: { $ref: `#/components/schemas/${AUTH_ERROR_SCHEMA_NAME}` },
        examples,
      },
    },
  };
}
