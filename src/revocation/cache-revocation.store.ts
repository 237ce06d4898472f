import type { CacheEntries } from '../persistence/cache-entries.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

/**
 * Revoked token ids in the app's cache (`store: 'cache'`), shared by every instance on the same Redis. Each entry
 * lives until the token's own `exp`, so the cache expires it and nothing is purged. No `revokedSince()`: a cache has
 * no range query, so this store is read on every request (`consistency: 'strict'`, the default with this store).
 */
export class CacheRevocationStore implements RevocationStore {
  constructor(
    private readonly entries: CacheEntries,
    private readonly clock: () => number = Date.now,
  ) {}

  async revoke(jti: string, expiresAt: Date): Promise<void> {
    await this.entries.set(`jti:${jti}`, expiresAt.getTime(), expiresAt.getTime() - this.clock());
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.entries.get(`jti:${jti}`)) !== undefined;
  }

  /** The cache expires entries itself. */
  async purgeExpired(): Promise<number> {
    return 0;
  }
}

/**
 * Per-user cut-offs in the app's cache. A cut-off matters while a token issued before it can still be valid, so it
 * lives `keepMs` (the longest token lifetime accepted, with the clock tolerance) past the cut-off itself.
 */
export class CacheUserCutoffStore implements UserCutoffStore {
  constructor(
    private readonly entries: CacheEntries,
    private readonly keepMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async set(userId: string, at: Date): Promise<void> {
    const held = await this.get(userId);
    // Moves forward only; two concurrent writers may race, and the later cut-off can only be the safer one to lose to.
    if (held !== null && held >= at) return;
    await this.entries.set(`cut:${userId}`, at.getTime(), at.getTime() + this.keepMs - this.clock());
  }

  async get(userId: string): Promise<Date | null> {
    const value = await this.entries.get(`cut:${userId}`);
    return typeof value === 'number' ? new Date(value) : null;
  }

  /** No range query in a cache: the gate reads cut-offs per request instead (`strict`). */
  async since(): Promise<Array<{ userId: string; at: Date }>> {
    return [];
  }

  async purgeOlderThan(): Promise<number> {
    return 0;
  }
}
