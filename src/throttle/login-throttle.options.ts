import { createHash, createHmac, KeyObject, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { AuthConfigError } from '../errors/auth-error.js';
import type { ClientAddressReader } from './client-address.js';
import { DEVICE_COOKIE_DEFAULTS, type DeviceCookieOptions, type ResolvedDeviceCookieOptions } from './device-cookie.js';
import type { RedisLike } from './redis-throttle.store.js';
import type { ThrottleStore } from './throttle-store.js';

export interface ThrottleLimit {
  /** Failed attempts allowed in one window. */
  limit: number;
  /** Length of the window, in seconds. */
  windowSeconds: number;
}

export interface LoginThrottleOptions {
  /** Count failed logins and refuse with 429 over a limit [true]. Off, the password-check queue stays bounded. */
  enabled?: boolean;
  /** One account from one IP: the tight limit, reset by a successful login [10 per 900 s]. */
  perAccountAndIp?: ThrottleLimit | false;
  /** One account from everywhere: looser, so one attacker cannot lock a user out cheaply [100 per 900 s]. */
  perAccount?: ThrottleLimit | false;
  /** One IP, whatever the usernames (spraying) [200 per 900 s]. */
  perIp?: ThrottleLimit | false;
  /** `refresh()` with an invalid refresh token, per IP [30 per 60 s]. */
  refreshPerIp?: ThrottleLimit | false;
  /**
   * Where the counters live: `'memory'` (this process), `'typeorm'` (the DataSource of the `store` option),
   * `'redis'` (see `redis`) or your own `ThrottleStore` [the module's `store`: memory or typeorm].
   */
  store?: 'memory' | 'typeorm' | 'redis' | ThrottleStore;
  /** For `store: 'redis'`: a URL (ioredis is loaded then) or a client of your own; `keyPrefix` ['nest-auth:throttle:']. */
  redis?: { url?: string; client?: RedisLike; keyPrefix?: string };
  /**
   * Key of the username/IP fingerprints that name the counters and appear in audit events
   * (at least 32 bytes; every instance must share it) [derived from the JWT signing key].
   */
  fingerprintKey?: string | Buffer;
  /** Longest a store call may take before it counts as a failure (503 `auth_unavailable`) [revocation.storeTimeoutMs, else 2000]. */
  storeTimeoutMs?: number;
  /** The password-check queue: `concurrency` [cores - 1, at least 1] checks at once, `maxQueued` waiting [4 × concurrency]; more is 503 `auth_busy`. */
  passwordChecks?: { concurrency?: number; maxQueued?: number; retryAfterSeconds?: number };
  /**
   * A 429 or 503 is held this long before it goes out (from half of it, jittered; at most its `Retry-After`
   * and 30 s): only the refused call waits, never a connection (behind a proxy a connection carries many users);
   * doubled (up to 8×) for each refusal in a row from one client address that came before its `Retry-After`
   * ended; also a failed login's 401 while others wait for the queue. `0` or `false` turns it off [1000].
   */
  pacingMs?: number | false;
  /**
   * OWASP device cookies: a browser that logged in to an account before keeps a way in while its address is
   * under attack (see `DeviceCookieOptions`; `true`: the defaults, `__Host-nest-auth-device`, 365 days, 10 failures
   * per 900 s per device) [on with `cookies.enabled`, else off]. `false` turns it off.
   */
  deviceCookie?: DeviceCookieOptions | boolean;
  /**
   * The caller's address where the module cannot read one (NATS, TCP; see `ClientAddressReader`) [none: such
   * calls count per account only].
   */
  clientAddress?: ClientAddressReader;
}

export interface ResolvedLoginThrottleOptions {
  enabled: boolean;
  perAccountAndIp: ThrottleLimit | null;
  perAccount: ThrottleLimit | null;
  perIp: ThrottleLimit | null;
  refreshPerIp: ThrottleLimit | null;
  store: 'memory' | 'typeorm' | 'redis' | ThrottleStore;
  /** The DataSource of `store: 'typeorm'` (the module's `store.dataSource`). */
  dataSource: string;
  redis?: { url?: string; client?: RedisLike; keyPrefix: string };
  fingerprintKey: Buffer;
  /** True when the key was made up for this process: counters in a shared store would not match across instances. */
  fingerprintKeyIsRandom: boolean;
  storeTimeoutMs: number;
  passwordChecks: { concurrency: number; maxQueued: number; retryAfterSeconds: number };
  /** 0: off. */
  pacingMs: number;
  /** null: off. */
  deviceCookie: ResolvedDeviceCookieOptions | null;
  clientAddress?: ClientAddressReader;
}

export const LOGIN_THROTTLE_DEFAULTS = {
  perAccountAndIp: { limit: 10, windowSeconds: 900 },
  perAccount: { limit: 100, windowSeconds: 900 },
  perIp: { limit: 200, windowSeconds: 900 },
  refreshPerIp: { limit: 30, windowSeconds: 60 },
} as const;

const KNOWN = [
  'enabled',
  'perAccountAndIp',
  'perAccount',
  'perIp',
  'refreshPerIp',
  'store',
  'redis',
  'fingerprintKey',
  'storeTimeoutMs',
  'passwordChecks',
  'pacingMs',
  'deviceCookie',
  'clientAddress',
];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInt(value: unknown, option: string, fallback: number, max = 1e9): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > max) {
    throw new AuthConfigError(option, `must be a positive integer${max < 1e9 ? ` of at most ${max}` : ''}`);
  }
  return value as number;
}

function resolveLimit(raw: unknown, option: string, fallback: ThrottleLimit): ThrottleLimit | null {
  if (raw === false) return null;
  if (raw === undefined) return { ...fallback };
  if (!isObject(raw)) throw new AuthConfigError(option, 'must be { limit, windowSeconds } or false');
  for (const key of Object.keys(raw)) {
    if (key !== 'limit' && key !== 'windowSeconds') throw new AuthConfigError(`${option}.${key}`, 'unknown option');
  }
  return {
    limit: positiveInt(raw.limit, `${option}.limit`, fallback.limit),
    // A day at most: longer windows are lockouts, which this is not meant to be.
    windowSeconds: positiveInt(raw.windowSeconds, `${option}.windowSeconds`, fallback.windowSeconds, 86_400),
  };
}

function isThrottleStore(value: unknown): value is ThrottleStore {
  return isObject(value) && ['hit', 'release', 'reset'].every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
}

/** What the rest of the options give: the module's store and the JWT key material the fingerprint key is derived from. */
export interface LoginThrottleContext {
  store?: unknown;
  jwt?: { secret?: unknown; privateKey?: unknown; keys?: Array<{ secret?: unknown; privateKey?: unknown }> };
  revocation?: { storeTimeoutMs?: unknown };
  cookies?: unknown;
}

/**
 * Validates `loginThrottle` at boot. Every problem is an `AuthConfigError`
 * naming the option (`loginThrottle.perIp.limit`, …).
 */
export function resolveLoginThrottleOptions(raw: unknown, context: LoginThrottleContext = {}): ResolvedLoginThrottleOptions {
  if (raw === undefined) raw = {};
  if (raw === false) raw = { enabled: false };
  if (!isObject(raw)) throw new AuthConfigError('loginThrottle', 'must be an object');
  for (const key of Object.keys(raw)) {
    if (!KNOWN.includes(key)) throw new AuthConfigError(`loginThrottle.${key}`, 'unknown option');
  }
  if (raw.enabled !== undefined && typeof raw.enabled !== 'boolean') throw new AuthConfigError('loginThrottle.enabled', 'must be a boolean');

  const moduleStore = context.store === 'typeorm' || (isObject(context.store) && context.store.type === 'typeorm') ? 'typeorm' : 'memory';
  let store: ResolvedLoginThrottleOptions['store'];
  if (raw.store === undefined) store = moduleStore;
  else if (raw.store === 'memory' || raw.store === 'typeorm' || raw.store === 'redis') store = raw.store;
  else if (isThrottleStore(raw.store)) store = raw.store;
  else throw new AuthConfigError('loginThrottle.store', "must be 'memory', 'typeorm', 'redis' or a ThrottleStore (hit, release, reset)");
  if (store === 'typeorm' && moduleStore !== 'typeorm') {
    throw new AuthConfigError('loginThrottle.store', "'typeorm' uses the DataSource of the `store` option: set store: 'typeorm' too");
  }

  let redis: ResolvedLoginThrottleOptions['redis'];
  if (raw.redis !== undefined) {
    if (!isObject(raw.redis)) throw new AuthConfigError('loginThrottle.redis', 'must be { url } or { client }');
    for (const key of Object.keys(raw.redis)) {
      if (!['url', 'client', 'keyPrefix'].includes(key)) throw new AuthConfigError(`loginThrottle.redis.${key}`, 'unknown option');
    }
    const { url, client, keyPrefix } = raw.redis;
    if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
      throw new AuthConfigError('loginThrottle.redis.url', 'must be a redis:// or rediss:// URL');
    }
    if (client !== undefined && !(isObject(client) && typeof (client as Record<string, unknown>).eval === 'function')) {
      throw new AuthConfigError('loginThrottle.redis.client', 'must be an ioredis client');
    }
    if ((url === undefined) === (client === undefined)) throw new AuthConfigError('loginThrottle.redis', 'needs exactly one of url and client');
    if (keyPrefix !== undefined && (typeof keyPrefix !== 'string' || keyPrefix.length === 0)) {
      throw new AuthConfigError('loginThrottle.redis.keyPrefix', 'must be a non-empty string');
    }
    redis = {
      url: url as string | undefined,
      client: client as RedisLike | undefined,
      keyPrefix: (keyPrefix as string | undefined) ?? 'nest-auth:throttle:',
    };
  }
  if (store === 'redis' && !redis) throw new AuthConfigError('loginThrottle.redis', "store 'redis' needs redis: { url } or { client }");

  const key = resolveFingerprintKey(raw.fingerprintKey, context.jwt);
  const concurrencyDefault = Math.max(1, availableParallelism() - 1);
  const checks = raw.passwordChecks;
  if (checks !== undefined && !isObject(checks))
    throw new AuthConfigError('loginThrottle.passwordChecks', 'must be { concurrency?, maxQueued?, retryAfterSeconds? }');
  for (const k of Object.keys(checks ?? {})) {
    if (!['concurrency', 'maxQueued', 'retryAfterSeconds'].includes(k))
      throw new AuthConfigError(`loginThrottle.passwordChecks.${k}`, 'unknown option');
  }
  const concurrency = positiveInt(checks?.concurrency, 'loginThrottle.passwordChecks.concurrency', concurrencyDefault);
  const timeoutFallback = Number.isSafeInteger(context.revocation?.storeTimeoutMs) ? (context.revocation!.storeTimeoutMs as number) : 2000;

  return {
    enabled: raw.enabled !== false,
    pacingMs: resolvePacing(raw.pacingMs),
    deviceCookie: resolveDeviceCookie(raw.deviceCookie, isObject(context.cookies) && context.cookies.enabled === true),
    clientAddress: resolveClientAddress(raw.clientAddress),
    perAccountAndIp: resolveLimit(raw.perAccountAndIp, 'loginThrottle.perAccountAndIp', LOGIN_THROTTLE_DEFAULTS.perAccountAndIp),
    perAccount: resolveLimit(raw.perAccount, 'loginThrottle.perAccount', LOGIN_THROTTLE_DEFAULTS.perAccount),
    perIp: resolveLimit(raw.perIp, 'loginThrottle.perIp', LOGIN_THROTTLE_DEFAULTS.perIp),
    refreshPerIp: resolveLimit(raw.refreshPerIp, 'loginThrottle.refreshPerIp', LOGIN_THROTTLE_DEFAULTS.refreshPerIp),
    store,
    dataSource: isObject(context.store) && typeof context.store.dataSource === 'string' ? context.store.dataSource : 'default',
    redis,
    fingerprintKey: key.key,
    fingerprintKeyIsRandom: key.random,
    storeTimeoutMs: positiveInt(raw.storeTimeoutMs, 'loginThrottle.storeTimeoutMs', timeoutFallback, 60_000),
    passwordChecks: {
      concurrency,
      maxQueued: checks?.maxQueued === 0 ? 0 : positiveInt(checks?.maxQueued, 'loginThrottle.passwordChecks.maxQueued', 4 * concurrency),
      retryAfterSeconds: positiveInt(checks?.retryAfterSeconds, 'loginThrottle.passwordChecks.retryAfterSeconds', 1, 3600),
    },
  };
}

function resolveClientAddress(raw: unknown): ClientAddressReader | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'function') throw new AuthConfigError('loginThrottle.clientAddress', 'must be a function (call) => string | undefined');
  return raw as ClientAddressReader;
}

/** Cookie names are RFC 6265 tokens. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** On by default where the app already keeps browser sessions in cookies (`cookies.enabled`); `true` or `{…}` elsewhere. */
function resolveDeviceCookie(raw: unknown, cookieSessions: boolean): ResolvedDeviceCookieOptions | null {
  if (raw === false || (raw === undefined && !cookieSessions)) return null;
  if (raw === undefined || raw === true) raw = {};
  if (!isObject(raw)) throw new AuthConfigError('loginThrottle.deviceCookie', 'must be { name?, maxAgeDays?, perDevice?, secure? }, true or false');
  for (const key of Object.keys(raw)) {
    if (!['name', 'maxAgeDays', 'perDevice', 'secure'].includes(key))
      throw new AuthConfigError(`loginThrottle.deviceCookie.${key}`, 'unknown option');
  }
  if (raw.secure !== undefined && typeof raw.secure !== 'boolean')
    throw new AuthConfigError('loginThrottle.deviceCookie.secure', 'must be a boolean');
  const secure = raw.secure !== false;
  const name = raw.name ?? (secure ? '__Host-nest-auth-device' : 'nest-auth-device');
  if (typeof name !== 'string' || !COOKIE_NAME.test(name))
    throw new AuthConfigError('loginThrottle.deviceCookie.name', "must be a cookie name (letters, digits, -_.!#$%&'*+^`|~)");
  if (!secure && /^__(Host|Secure)-/i.test(name)) {
    throw new AuthConfigError('loginThrottle.deviceCookie.name', 'a __Host- or __Secure- cookie needs secure: true');
  }
  const perDevice = resolveLimit(raw.perDevice, 'loginThrottle.deviceCookie.perDevice', DEVICE_COOKIE_DEFAULTS.perDevice);
  if (perDevice === null)
    throw new AuthConfigError('loginThrottle.deviceCookie.perDevice', 'must be { limit, windowSeconds }: a known device is still counted');
  return {
    name,
    secure,
    maxAgeSeconds: positiveInt(raw.maxAgeDays, 'loginThrottle.deviceCookie.maxAgeDays', DEVICE_COOKIE_DEFAULTS.maxAgeDays, 3650) * 86_400,
    perDevice,
  };
}

/** Ten seconds at most: pacing slows a client down, it is no ban (and the `Retry-After` of the answer caps it too). */
function resolvePacing(raw: unknown): number {
  if (raw === undefined) return 1000;
  if (raw === false || raw === 0) return 0;
  if (!Number.isSafeInteger(raw) || (raw as number) < 0 || (raw as number) > 10_000) {
    throw new AuthConfigError('loginThrottle.pacingMs', 'must be false or an integer number of milliseconds from 0 to 10000');
  }
  return raw as number;
}

/** The fingerprint key: given, or derived (one-way, domain-separated) from the JWT signing key, so every instance agrees. */
function resolveFingerprintKey(raw: unknown, jwt: LoginThrottleContext['jwt']): { key: Buffer; random: boolean } {
  if (raw !== undefined) {
    const key = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.isBuffer(raw) ? raw : undefined;
    if (!key) throw new AuthConfigError('loginThrottle.fingerprintKey', 'must be a string or a Buffer');
    if (key.length < 32) throw new AuthConfigError('loginThrottle.fingerprintKey', 'must be at least 32 bytes');
    return { key, random: false };
  }
  const material =
    keyMaterial(jwt?.secret) ?? keyMaterial(jwt?.privateKey) ?? keyMaterial(jwt?.keys?.[0]?.secret) ?? keyMaterial(jwt?.keys?.[0]?.privateKey);
  if (material) return { key: createHmac('sha256', material).update('nest-auth/login-throttle/fingerprint').digest(), random: false };
  return { key: randomBytes(32), random: true };
}

function keyMaterial(value: unknown): Buffer | undefined {
  if (typeof value === 'string' && value.length > 0) return createHash('sha256').update(value).digest();
  if (Buffer.isBuffer(value) && value.length > 0) return createHash('sha256').update(value).digest();
  if (value instanceof KeyObject) {
    if (value.type === 'secret') return createHash('sha256').update(value.export()).digest();
    if (value.type === 'private')
      return createHash('sha256')
        .update(value.export({ format: 'der', type: 'pkcs8' }))
        .digest();
  }
  return undefined;
}
