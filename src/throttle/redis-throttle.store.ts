import type { ThrottleHit, ThrottleStore } from './throttle-store.js';

/** The few ioredis calls the store makes, so ioredis stays an optional peer that is only loaded when configured. */
export interface RedisLike {
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  quit(): Promise<unknown>;
  disconnect?(): void;
}

/** INCR, and PEXPIRE only when this hit opened the window (or the key somehow has no expiry): one atomic step. */
const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

/** DECR a running window, never below zero; an ended window stays ended. */
const RELEASE = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
`;

export interface RedisThrottleStoreOptions {
  /** Prepended to every key ['nest-auth:throttle:']. */
  keyPrefix?: string;
  /** Quit the client on shutdown: true when the store made the client itself. */
  ownsClient?: boolean;
}

/** Counters in Redis: every instance that shares the server counts together; Redis expires ended windows itself. */
export class RedisThrottleStore implements ThrottleStore {
  private readonly prefix: string;

  constructor(
    private readonly client: RedisLike,
    private readonly options: RedisThrottleStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? 'nest-auth:throttle:';
  }

  async hit(key: string, windowMs: number): Promise<ThrottleHit> {
    // Read the time before the call: a slow answer then errs towards a later reset, never an earlier one.
    const before = Date.now();
    const [count, ttl] = (await this.client.eval(HIT, 1, this.prefix + key, Math.max(1, Math.ceil(windowMs)))) as [number, number];
    return { count: Number(count), resetAt: before + Number(ttl) };
  }

  async release(key: string): Promise<void> {
    await this.client.eval(RELEASE, 1, this.prefix + key);
  }

  async reset(key: string): Promise<void> {
    await this.client.del(this.prefix + key);
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.options.ownsClient) return;
    // QUIT waits for an answer a dead or hung server never sends: give it a moment, then drop the socket.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.client.quit().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 500)))]);
    clearTimeout(timer);
    this.client.disconnect?.();
  }
}

/** Loads ioredis (an optional peer) and connects to `url`; the error names the option when it is not installed. */
export async function connectRedis(url: string, option: string): Promise<RedisLike> {
  let mod: { Redis?: new (url: string, opts: object) => RedisLike; default?: unknown };
  try {
    mod = (await import('ioredis')) as typeof mod;
  } catch {
    const { AuthConfigError } = await import('../errors/auth-error.js');
    throw new AuthConfigError(option, "the 'redis' throttle store needs ioredis: npm install ioredis");
  }
  const Redis = (mod.Redis ?? mod.default) as new (url: string, opts: object) => RedisLike;
  // A failed command fails fast (the throttle turns it into 503 auth_unavailable) instead of queueing for ever.
  return new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000 });
}
