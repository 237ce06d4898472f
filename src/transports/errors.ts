import type { AuthError } from '../errors/auth-error.js';
import { BEARER_CHALLENGE, BEARER_INVALID_TOKEN_CHALLENGE, toHttpException } from '../errors/http-exception.js';
import { setResponseHeader, type Carrier } from './carrier.js';
import { toGraphqlError } from './graphql.js';
import { toRpcException } from './rpc.js';
import { asAuthError, retryAfterOf } from './transport-error.js';
import { toWsException } from './ws.js';

/** Codes whose 401 answers a bearer challenge (RFC 6750 §3). */
const BEARER_CODES = new Set(['token_missing', 'token_invalid', 'token_expired', 'token_revoked']);

/**
 * What a guard throws for a failure, in the carrier's transport: a GraphQL
 * error, a `WsException`, an `RpcException` with `{ code, message }`, or on
 * HTTP Nest's HTTP exceptions plus `WWW-Authenticate`
 * (with `error="invalid_token"` when a token was presented) and `Retry-After`.
 */
export function failureFor(carrier: Carrier | undefined, err: AuthError, tokenPresented: boolean): unknown {
  switch (carrier?.type) {
    case 'graphql': {
      // GraphQL over HTTP has a response: its Retry-After says the same as extensions.retryAfter.
      const retryAfter = retryAfterOf(err);
      if (retryAfter !== undefined && carrier.response !== undefined) setResponseHeader(carrier.response, 'Retry-After', String(retryAfter));
      return toGraphqlError(err);
    }
    case 'ws':
      return toWsException(err);
    case 'rpc':
      return toRpcException(err);
  }
  if (carrier !== undefined && carrier.response !== undefined) {
    if (BEARER_CODES.has(err.code)) {
      setResponseHeader(carrier.response, 'WWW-Authenticate', tokenPresented ? BEARER_INVALID_TOKEN_CHALLENGE : BEARER_CHALLENGE);
    }
    if (err.retryAfterSeconds !== undefined) setResponseHeader(carrier.response, 'Retry-After', String(err.retryAfterSeconds));
    // A refusal may name its own challenge (DPoP, RFC 9449 §7.1: `WWW-Authenticate: DPoP ...`, `DPoP-Nonce`).
    const headers = (err as { responseHeaders?: Readonly<Record<string, string>> }).responseHeaders;
    if (headers !== undefined) for (const name of Object.keys(headers)) setResponseHeader(carrier.response, name, headers[name]!);
  }
  return toHttpException(err);
}

/**
 * What a call of `AuthService` made off HTTP (a resolver, a gateway, a
 * message handler) throws for anything it refused, the throttle's 429 and
 * 503 included: that transport's failure, in its documented shape, with the
 * retry hint. Anything that is not a refusal is passed on as it is.
 */
export function transportFailureOf(carrier: Carrier, err: unknown): unknown {
  const authError = asAuthError(err);
  return authError === undefined ? err : failureFor(carrier, authError, false);
}
