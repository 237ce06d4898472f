import { createHash } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';

/**
 * The proofs already used (RFC 9449 §11.1): each proof's `jti` is accepted
 * once, on every instance that shares the store. An entry is kept until the
 * proof could no longer pass the `iat` window anyway.
 */
export interface DpopReplayStore {
  /** True the first time `key` is claimed before `expiresAt`; false when it was claimed already (a replay). */
  claim(key: string, expiresAt: number): Promise<boolean>;
}

/** The store's key of a proof: a digest of its key's thumbprint and its jti, so an attacker's long jti costs the store nothing more. */
export function replayKeyOf(issuer: string, jkt: string, jti: string): string {
  return createHash('sha256').update(`${issuer}\n${jkt}\n${jti}`).digest('base64url');
}

/**
 * One instance's memory: enough for a single instance; swept of expired entries as it grows. Bounded: a client
 * sending proofs faster than `maxEntries` per `iat` window is refused (503) rather than let it grow without end.
 */
export class InMemoryDpopReplayStore implements DpopReplayStore {
  private readonly seen = new Map<string, number>();
  private sweepAt = 1024;
  private sweptAt = -Infinity;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 500_000,
  ) {}

  claim(key: string, expiresAt: number): Promise<boolean> {
    const now = this.now();
    const held = this.seen.get(key);
    if (held !== undefined && held > now) return Promise.resolve(false);
    if (this.seen.size >= this.sweepAt) {
      // Full of live entries: a sweep (a pass over all of them) at most once a second, a refusal in between.
      if (this.seen.size >= this.maxEntries && now - this.sweptAt < 1000) {
        return Promise.reject(new AuthError('auth_unavailable', 'dpop_replay_store_full'));
      }
      this.sweptAt = now;
      for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
      // Grows with the live entries only: a sweep runs again once they have doubled.
      this.sweepAt = Math.min(this.maxEntries, Math.max(1024, this.seen.size * 2));
      if (this.seen.size >= this.maxEntries) return Promise.reject(new AuthError('auth_unavailable', 'dpop_replay_store_full'));
    }
    this.seen.set(key, expiresAt);
    return Promise.resolve(true);
  }
}

/** The few ioredis calls the store makes (ioredis stays an optional peer). */
export interface DpopRedisLike {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<string | null>;
  quit(): Promise<unknown>;
  disconnect?(): void;
}

/** Redis: SET NX PX is one atomic step, so two instances can never both accept a proof; Redis expires the entries. */
export class RedisDpopReplayStore implements DpopReplayStore {
  constructor(
    private readonly client: DpopRedisLike,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
    private readonly ownsClient = false,
  ) {}

  async claim(key: string, expiresAt: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(expiresAt - this.now()));
    return (await this.client.set(this.prefix + key, '1', 'PX', ttl, 'NX')) === 'OK';
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    // QUIT waits for an answer a dead server never sends: a moment, then the socket is dropped.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.client.quit().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 500)))]);
    clearTimeout(timer);
    this.client.disconnect?.();
  }
}

/** Loads ioredis (an optional peer) and connects; a command fails fast rather than queueing while the server is away. */
export async function connectDpopRedis(url: string): Promise<DpopRedisLike> {
  const mod = (await import('ioredis')) as unknown as { Redis?: unknown; default?: unknown };
  const Redis = (mod.Redis ?? mod.default) as new (url: string, opts: object) => DpopRedisLike;
  return new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
}
