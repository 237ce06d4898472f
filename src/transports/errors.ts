import { AuthError } from '../errors/auth-error.js';
import { BEARER_CHALLENGE, BEARER_INVALID_TOKEN_CHALLENGE, toHttpException } from '../errors/http-exception.js';
import { setResponseHeader, type Carrier } from './carrier.js';
import { toGraphqlError } from './graphql.js';
import { toRpcException } from './rpc.js';
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
    case 'graphql':
      return toGraphqlError(err);
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
  }
  return toHttpException(err);
}
