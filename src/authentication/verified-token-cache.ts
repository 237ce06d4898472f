import type { VerifiedClaims } from '../tokens/token.types.js';

/** Enough for the working set of busy apps; ~0.5 KiB a token, so a few MiB at most. */
const DEFAULT_CAPACITY = 10_000;

export interface CachedVerification {
  claims: Readonly<VerifiedClaims>;
  /** The `permissions` claim as strings, read once. */
  permissions: readonly string[];
}

/**
 * Tokens that passed the strict verifier, keyed by the exact token string:
 * a client sends the same token on every request until it expires, and a hit
 * skips the HMAC/signature and the JSON parsing. Only verified tokens enter,
 * so the cache cannot be filled by forgeries; a hit still has its expiry
 * checked against the clock, and revocation is checked on every request
 * whatever the cache says. Oldest entries are dropped first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, CachedVerification>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  get(token: string): CachedVerification | undefined {
    return this.entries.get(token);
  }

  add(token: string, claims: VerifiedClaims): CachedVerification {
    const entry = verificationOf(claims);
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, entry);
    return entry;
  }

  delete(token: string): void {
    this.entries.delete(token);
  }
}

/** Verified claims, frozen (they may be shared by requests), with the `permissions` claim read once. */
export function verificationOf(claims: VerifiedClaims): CachedVerification {
  const perms = claims.permissions;
  return {
    claims: Object.freeze(claims),
    permissions: Object.freeze(Array.isArray(perms) ? perms.filter((p): p is string => typeof p === 'string') : []),
  };
}
