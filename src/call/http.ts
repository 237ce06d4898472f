import type { ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import { retryAfterOf } from '../errors/bodies.js';
import { BEARER_CHALLENGE, BEARER_INVALID_TOKEN_CHALLENGE, toHttpException } from '../errors/http-exception.js';
import type { AuthTarget, Carrier } from './carrier.js';
import { setResponseHeader } from './response.js';
import type { Transport } from './transport.js';

/** Codes whose 401 answers a bearer challenge (RFC 6750 §3). */
const BEARER_CODES = new Set(['token_missing', 'token_invalid', 'token_expired', 'token_revoked']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * HTTP (Express and Fastify). The request is argument 0 and the response
 * argument 1: `switchToHttp()` would build closures on every call.
 */
export const HTTP_TRANSPORT: Transport = {
  carrier(ctx: ExecutionContext) {
    const target = ctx.getArgByIndex(0) as AuthTarget | undefined;
    if (!isRecord(target)) return undefined;
    return { type: 'http', target, headers: target.headers as Record<string, unknown> | undefined, response: ctx.getArgByIndex(1) };
  },
  target: (ctx) => ctx.getArgByIndex(0),
  failure: httpFailure,
};

/**
 * The HTTP mapper: Nest's own exceptions (`toHttpException`), plus on the
 * response `Retry-After` when the refusal says when to come back and, for a
 * guard's refusal of a bearer credential, `WWW-Authenticate` (with
 * `error="invalid_token"` when a token was presented). Also the mapper of a
 * call whose transport is unknown (no response then, so no header).
 */
export function httpFailure(err: AuthError, carrier: Carrier | undefined, tokenPresented?: boolean): unknown {
  const response = carrier?.response;
  if (response !== undefined) {
    if (tokenPresented !== undefined && BEARER_CODES.has(err.code)) {
      setResponseHeader(response, 'WWW-Authenticate', tokenPresented ? BEARER_INVALID_TOKEN_CHALLENGE : BEARER_CHALLENGE);
    }
    const retryAfter = retryAfterOf(err);
    if (retryAfter !== undefined) setResponseHeader(response, 'Retry-After', String(retryAfter));
    // A refusal may name its own challenge (DPoP, RFC 9449 §7.1: `WWW-Authenticate: DPoP ...`, `DPoP-Nonce`).
    const headers = (err as { responseHeaders?: Readonly<Record<string, string>> }).responseHeaders;
    if (headers !== undefined) for (const name of Object.keys(headers)) setResponseHeader(response, name, headers[name]!);
  }
  return toHttpException(err);
}
