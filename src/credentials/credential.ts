import { AuthError } from '../errors/auth-error.js';
import type { Carrier } from '../call/carrier.js';
import { bearerTokenOf, dpopTokenOf, rawTokenOf } from './bearer.js';

/** What a request presents. Sources read them; the authenticator turns them into a context. */
export type Credential =
  { kind: 'bearer'; token: string; dpop?: DpopPresentation } | { kind: 'api_key'; key: string } | { kind: 'cookie'; token: string };

/** A token sent with the `DPoP` scheme (RFC 9449 §7.1): its proof (the `DPoP` header) and the call it must match. */
export interface DpopPresentation {
  proof: unknown;
  carrier: Carrier;
}

/**
 * Reads one kind of credential from a carrier. Returns undefined when the
 * carrier has none of it; throws `AuthError('token_invalid' | 'api_key_invalid')`
 * when it has a malformed one.
 */
export interface CredentialSource {
  read(carrier: Carrier): Credential | undefined;
}

/** The bearer token in `Authorization` (RFC 6750), or a raw token in the configured `jwt.header`. */
export function tokenHeaderSource(header: string): CredentialSource {
  const bearer = header === 'authorization';
  return {
    read(carrier) {
      const value = carrier.headers?.[header];
      const token = bearer ? bearerTokenOf(value) : rawTokenOf(value);
      if (token !== undefined) return { kind: 'bearer', token };
      const bound = bearer ? dpopTokenOf(value) : undefined;
      return bound === undefined ? undefined : { kind: 'bearer', token: bound, dpop: { proof: carrier.headers?.dpop, carrier } };
    },
  };
}

/** An API key in its header (`apiKeys.header`). */
export function apiKeyHeaderSource(header: string): CredentialSource {
  return {
    read(carrier) {
      const raw = carrier.headers?.[header];
      if (raw === undefined || raw === '') return undefined;
      if (typeof raw !== 'string') throw new AuthError('api_key_invalid', 'malformed_api_key_header');
      return { kind: 'api_key', key: raw };
    },
  };
}

/**
 * The credential of a call: at most one. Two of different kinds are refused on
 * every route, public ones too: never guess which one was meant.
 */
export function readCredential(sources: readonly CredentialSource[], carrier: Carrier): Credential | undefined {
  let found: Credential | undefined;
  for (let i = 0; i < sources.length; i++) {
    const credential = sources[i].read(carrier);
    if (credential === undefined) continue;
    if (found !== undefined) throw new AuthError('token_invalid', 'ambiguous_credentials');
    found = credential;
  }
  return found;
}
