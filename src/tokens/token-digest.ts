import { hash } from 'node:crypto';

/** The token whose digest was computed last, and that digest. */
let lastToken: string | undefined;
let lastDigest = '';

/**
 * The SHA-256 of a whole token, as the 32-character latin1 string of its bytes: the key under which the
 * verified-token caches (the module's own and the trusted issuers') find a token, never by its text. The
 * last token's digest is remembered, so one request hashes its token once however many look-ups it makes:
 * the own cache's, then, for a provider's token, the issuers' cache and its insert after a miss.
 */
export function tokenDigest(token: string): string {
  if (token !== lastToken) {
    // A latin1 string of the 32 digest bytes: the cheapest output of the one-shot hash.
    lastDigest = hash('sha256', token, 'binary');
    lastToken = token;
  }
  return lastDigest;
}
