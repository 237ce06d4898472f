import type { NewSession, SessionRecord, SessionStore } from '../sessions/session-store.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

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

/**
 * Sessions kept by another store (this instance's memory) whose END is also written to the cache: the gate reads
 * `sessions.find(sid)` per request, and an instance that never saw the session learns from the cache that it ended.
 * A session known only by its end comes back as a record with `endedAt` set (refresh and the gate both refuse it).
 */
export class CacheEndedSessionStore implements SessionStore {
  constructor(
    private readonly inner: SessionStore,
    private readonly entries: CacheEntries,
    private readonly keepMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  private async markEnded(id: string, userId: string, now: Date): Promise<void> {
    await this.entries.set(`ses:${id}`, { userId, endedAt: now.getTime() }, this.keepMs + now.getTime() - this.clock());
  }

  create(session: NewSession): Promise<void> {
    return this.inner.create(session);
  }

  async find(id: string): Promise<SessionRecord | null> {
    const [local, ended] = await Promise.all([this.inner.find(id), this.entries.get(`ses:${id}`)]);
    const mark = ended as { userId?: string; endedAt?: number } | undefined;
    if (mark === undefined || typeof mark.endedAt !== 'number') return local;
    const endedAt = new Date(mark.endedAt);
    if (local) return local.endedAt ? local : { ...local, endedAt };
    return { id, userId: mark.userId ?? '', currentJti: '', createdAt: endedAt, lastUsedAt: endedAt, expiresAt: endedAt, endedAt };
  }

  rotate(id: string, fromJti: string, toJti: string, now: Date, expiresAt?: Date): Promise<boolean> {
    return this.inner.rotate(id, fromJti, toJti, now, expiresAt);
  }

  rotatedOutAt(id: string, jti: string): Promise<Date | null> {
    return this.inner.rotatedOutAt(id, jti);
  }

  async end(id: string, now: Date, reason: string): Promise<boolean> {
    const record = await this.inner.find(id);
    const ended = await this.inner.end(id, now, reason);
    // Written even when this instance did not hold the session: the caller asked for it to end everywhere.
    await this.markEnded(id, record?.userId ?? '', now);
    return ended;
  }

  async endAllForUser(userId: string, now: Date, reason: string): Promise<string[]> {
    const ids = await this.inner.endAllForUser(userId, now, reason);
    await Promise.all(ids.map((id) => this.markEnded(id, userId, now)));
    return ids;
  }

  listForUser(userId: string, now: Date): Promise<SessionRecord[]> {
    return this.inner.listForUser(userId, now);
  }

  endedSince(since: Date): Promise<Array<{ id: string; endedAt: Date }>> {
    return this.inner.endedSince(since);
  }

  purgeEndedBefore(before: Date): Promise<number> {
    return this.inner.purgeEndedBefore(before);
  }
}
