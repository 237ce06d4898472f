/**
 * The part of a Keyv store (cache-manager 7 keeps one per tier in `cache.stores`) these stores use. Typed here so
 * that nothing of `keyv` or `cache-manager` is imported: both are optional peers, loaded only with `store: 'cache'`.
 */
export interface KeyvLike {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  throwOnErrors?: boolean;
}

/** What the app's `CACHE_MANAGER` (cache-manager 7) must offer. */
export interface CacheManagerLike {
  stores: KeyvLike[];
}

/** The shortest and longest life of an entry, in ms: a token already expired still gets a moment; nothing is kept for ever. */
const MIN_TTL_MS = 1000;
const MAX_TTL_MS = 400 * 24 * 3600 * 1000;

const boundTtl = (ms: number): number => Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.ceil(ms)));

/**
 * Reads and writes of the app's cache that fail CLOSED. cache-manager's own `get` and `set` catch a store's error
 * and answer `undefined` (a cache miss): for a revocation list that would let a revoked token through while Redis is
 * down, and make a logout report success while nothing was written. So the tiers (`cache.stores`, Keyv instances)
 * are used directly, with `throwOnErrors` on (cache-manager still catches the same errors for the app's own calls,
 * so the app sees no change): a failure rejects, and the bounded store wrapper turns it into 503 `auth_unavailable`.
 * A write goes to every tier; a read asks the tiers in order and the first that holds the key answers (an in-memory
 * tier in front of Redis costs nothing, and misses what other instances wrote, so Redis is still asked).
 */
export class CacheEntries {
  private readonly tiers: KeyvLike[];

  constructor(
    cache: CacheManagerLike,
    private readonly prefix: string,
  ) {
    if (!cache || !Array.isArray(cache.stores) || cache.stores.length === 0) {
      throw new TypeError('CACHE_MANAGER has no stores (cache-manager 7 or later is needed)');
    }
    this.tiers = cache.stores;
    for (const tier of this.tiers) tier.throwOnErrors = true;
  }

  async get(key: string): Promise<unknown> {
    for (const tier of this.tiers) {
      const value = await tier.get(this.prefix + key);
      if (value !== undefined && value !== null) return value;
    }
    return undefined;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await Promise.all(this.tiers.map((tier) => tier.set(this.prefix + key, value, boundTtl(ttlMs))));
  }
}
