import { AuthError } from '../errors/auth-error.js';

/**
 * Reads the bearer token of an `Authorization` value (RFC 6750 §2.1): the
 * scheme `Bearer` in any casing, one or more spaces, exactly one token.
 * Returns undefined when the header is absent or carries another scheme
 * (the caller has no bearer credentials), throws `token_invalid` when it is
 * `Bearer` but malformed. Written without a regular expression: it runs on
 * every request.
 */
export function bearerTokenOf(value: unknown): string | undefined {
  return schemeTokenOf(value, 'bearer');
}

/** The token of a `DPoP` `Authorization` value (RFC 9449 §7.1), read as the bearer one; undefined for another scheme. */
export function dpopTokenOf(value: unknown): string | undefined {
  return schemeTokenOf(value, 'dpop');
}

function schemeTokenOf(value: unknown, scheme: 'bearer' | 'dpop'): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new AuthError('token_invalid', 'malformed_authorization_header');
  const n = scheme.length;
  if (value.length < n || value.slice(0, n).toLowerCase() !== scheme) return undefined;
  if (value.length === n) throw new AuthError('token_invalid', 'bearer_without_token');
  if (value.charCodeAt(n) !== 32) {
    // "Bearerx ..." is another scheme; "Bearer\t..." is a malformed bearer header.
    if (value.charCodeAt(n) === 9) throw new AuthError('token_invalid', 'malformed_authorization_header');
    return undefined;
  }
  let start = n + 1;
  while (start < value.length && value.charCodeAt(start) === 32) start++;
  if (start === value.length) throw new AuthError('token_invalid', 'bearer_without_token');
  const token = value.slice(start);
  if (hasWhitespace(token)) throw new AuthError('token_invalid', 'more_than_one_token');
  return token;
}

/** A raw token in a custom header (`jwt.header`). */
export function rawTokenOf(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || hasWhitespace(value)) throw new AuthError('token_invalid', 'malformed_token_header');
  return value;
}

/** Node refuses CR and LF in header values, so spaces and tabs are all a header can hide. */
function hasWhitespace(s: string): boolean {
  return s.indexOf(' ') !== -1 || s.indexOf('\t') !== -1;
}
