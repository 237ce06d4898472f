import type { AuthErrorCode } from '../errors/auth-error.js';
import { AUTH_ERROR_STATUS } from '../errors/messages.js';

/** The codes an HTTP answer of the module can carry (the module's own status table). */
export type DocumentedAuthCode = AuthErrorCode;

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
export function authErrorResponse(
  status: 401 | 403 | 429 | 503,
  codes: readonly DocumentedAuthCode[],
  headers?: Record<string, unknown>,
): Record<string, unknown> {
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
