import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { AuthConfigError } from '../errors/auth-error.js';
import { deriveKey, signingKeyMaterials, type SigningKeySource } from '../key-derivation/derive-key.js';
import { bool, check, group, isObject, nonEmptyString, parseOption, positiveInt, z } from '../option-schema/option-schema.js';
import type { ClientAddressReader } from './client-address.js';
import type { RedisLike } from './redis-throttle.store.js';
import type { ThrottleStore } from './throttle-store.js';

export interface ThrottleLimit {
  /** Failed attempts allowed in one window. */
  limit: number;
  /** Length of the window, in seconds. */
  windowSeconds: number;
}

export const LOGIN_THROTTLE_DEFAULTS = {
  perAccountAndIp: { limit: 10, windowSeconds: 900 },
  perAccount: { limit: 100, windowSeconds: 900 },
  perIp: { limit: 200, windowSeconds: 900 },
  refreshPerIp: { limit: 30, windowSeconds: 60 },
} as const;

export const DEVICE_COOKIE_DEFAULTS = { maxAgeDays: 365, perDevice: { limit: 10, windowSeconds: 900 } } as const;

/** Cookie names are RFC 6265 tokens. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const isThrottleStore = (value: unknown): boolean => isObject(value) && ['hit', 'release', 'reset'].every((m) => typeof value[m] === 'function');

/** `{ limit, windowSeconds }`, each defaulted when left out. */
const limitShape = {
  /** Failed attempts allowed in one window. */
  limit: positiveInt().optional(),
  /** Length of the window, in seconds; a day at most: longer windows are lockouts, which this is not meant to be. */
  windowSeconds: positiveInt(86_400).optional(),
};
const limitOrFalse = () => z.union([z.literal(false), group(limitShape)], { error: 'must be { limit, windowSeconds } or false' }).optional();

/**
 * `loginThrottle.deviceCookie` (OWASP's device cookies): after a successful login from a browser, the response
 * sets a signed cookie naming that device and the account it logged in to; a later login to the same account that
 * presents it is counted per device (`perDevice`) instead of per address and account. See `DeviceCookies`.
 */
const deviceCookieSchema = group(
  {
    /** ['__Host-nest-auth-device', or 'nest-auth-device' with `secure: false`]. */
    name: check<string>((v) => typeof v === 'string' && COOKIE_NAME.test(v), "must be a cookie name (letters, digits, -_.!#$%&'*+^`|~)").optional(),
    /** How long a device stays known after its last successful login, in days [365]. */
    maxAgeDays: positiveInt(3650).optional(),
    /** Failed logins one known device may make before it is treated as unknown [10 per 900 s]. */
    perDevice: group(limitShape, (issue) =>
      issue.input === false ? 'must be { limit, windowSeconds }: a known device is still counted' : 'must be { limit, windowSeconds } or false',
    ).optional(),
    /** The cookie's `Secure` attribute [true; browsers accept it from http://localhost]. */
    secure: bool().optional(),
  },
  'must be { name?, maxAgeDays?, perDevice?, secure? }, true or false',
);

export type DeviceCookieOptions = z.input<typeof deviceCookieSchema>;

/** `loginThrottle`: the one declaration its type (`LoginThrottleOptions`) and its validation come from. */
export const loginThrottleSchema = group({
  /** Count failed logins and refuse with 429 over a limit [true]. Off, the password-check queue stays bounded. */
  enabled: bool().optional(),
  /** One account from one IP: the tight limit, reset by a successful login [10 per 900 s]. */
  perAccountAndIp: limitOrFalse(),
  /** One account from everywhere: looser, so one attacker cannot lock a user out cheaply [100 per 900 s]. */
  perAccount: limitOrFalse(),
  /** One IP, whatever the usernames (spraying) [200 per 900 s]. */
  perIp: limitOrFalse(),
  /** `refresh()` with an invalid refresh token, per IP [30 per 60 s]. */
  refreshPerIp: limitOrFalse(),
  /**
   * Where the counters live: `'memory'` (this process), `'typeorm'` (the DataSource of the `store` option),
   * `'redis'` (see `redis`) or your own `ThrottleStore` [the module's `store`: memory or typeorm].
   */
  store: check<'memory' | 'typeorm' | 'redis' | ThrottleStore>(
    (v) => v === 'memory' || v === 'typeorm' || v === 'redis' || isThrottleStore(v),
    "must be 'memory', 'typeorm', 'redis' or a ThrottleStore (hit, release, reset)",
  ).optional(),
  /** For `store: 'redis'`: a URL (ioredis is loaded then) or a client of your own; `keyPrefix` ['nest-auth:throttle:']. */
  redis: group(
    {
      url: check<string>((v) => typeof v === 'string' && /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL').optional(),
      client: check<RedisLike>((v) => isObject(v) && typeof v.eval === 'function', 'must be an ioredis client').optional(),
      keyPrefix: nonEmptyString().optional(),
    },
    'must be { url } or { client }',
  ).optional(),
  /**
   * Key of the username/IP fingerprints that name the counters and appear in audit events
   * (at least 32 bytes; every instance must share it) [derived from the JWT signing key].
   */
  fingerprintKey: check<string | Buffer>((v) => typeof v === 'string' || Buffer.isBuffer(v), 'must be a string or a Buffer')
    .refine((v) => Buffer.byteLength(v) >= 32, 'must be at least 32 bytes')
    .optional(),
  /** Longest a store call may take before it counts as a failure (503 `auth_unavailable`) [revocation.storeTimeoutMs, else 2000]. */
  storeTimeoutMs: positiveInt(60_000).optional(),
  /** The password-check queue: `concurrency` [cores - 1, at least 1] checks at once, `maxQueued` waiting [4 × concurrency]; more is 503 `auth_busy`. */
  passwordChecks: group(
    {
      concurrency: positiveInt().optional(),
      maxQueued: check<number>((v) => v === 0 || (Number.isSafeInteger(v) && (v as number) > 0), 'must be a positive integer').optional(),
      retryAfterSeconds: positiveInt(3600).optional(),
    },
    'must be { concurrency?, maxQueued?, retryAfterSeconds? }',
  ).optional(),
  /**
   * A 429 or 503 is held this long before it goes out (from half of it, jittered; at most its `Retry-After`
   * and 30 s): only the refused call waits, never a connection (behind a proxy a connection carries many users);
   * doubled (up to 8×) for each refusal in a row from one client address that came before its `Retry-After`
   * ended; also a failed login's 401 while others wait for the queue. `0` or `false` turns it off [1000].
   * Ten seconds at most: pacing slows a client down, it is no ban.
   */
  pacingMs: check<number | false>(
    (v) => v === false || (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 10_000),
    'must be false or an integer number of milliseconds from 0 to 10000',
  ).optional(),
  /**
   * OWASP device cookies: a browser that logged in to an account before keeps a way in while its address is
   * under attack (see `DeviceCookieOptions`; `true`: the defaults, `__Host-nest-auth-device`, 365 days, 10 failures
   * per 900 s per device) [on with `cookies.enabled`, else off]. `false` turns it off.
   */
  deviceCookie: z
    .union([z.boolean(), deviceCookieSchema], { error: 'must be { name?, maxAgeDays?, perDevice?, secure? }, true or false' })
    .optional(),
  /**
   * The caller's address where the module cannot read one (NATS, TCP; see `ClientAddressReader`) [none: such
   * calls count per account only].
   */
  clientAddress: check<ClientAddressReader>((v) => typeof v === 'function', 'must be a function (call) => string | undefined').optional(),
});

export type LoginThrottleOptions = z.input<typeof loginThrottleSchema>;

export interface ResolvedDeviceCookieOptions {
  name: string;
  maxAgeSeconds: number;
  perDevice: ThrottleLimit;
  secure: boolean;
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

/** What the rest of the options give: the module's store and the JWT key material the fingerprint key is derived from. */
export interface LoginThrottleContext {
  store?: unknown;
  jwt?: SigningKeySource & { keys?: SigningKeySource[] };
  revocation?: { storeTimeoutMs?: unknown };
  cookies?: unknown;
}

type Limit = { limit?: number; windowSeconds?: number } | false | undefined;

function limitOf(given: Limit, fallback: ThrottleLimit): ThrottleLimit | null {
  if (given === false) return null;
  return { limit: given?.limit ?? fallback.limit, windowSeconds: given?.windowSeconds ?? fallback.windowSeconds };
}

/**
 * Validates `loginThrottle` at boot (with `loginThrottleSchema`), then what ties it to the rest of the options.
 * Every problem is an `AuthConfigError` naming the option (`loginThrottle.perIp.limit`, …).
 */
export function resolveLoginThrottleOptions(raw: unknown, context: LoginThrottleContext = {}): ResolvedLoginThrottleOptions {
  const given = parseOption(loginThrottleSchema, raw === undefined ? {} : raw === false ? { enabled: false } : raw, 'loginThrottle');

  const moduleStore = context.store === 'typeorm' || (isObject(context.store) && context.store.type === 'typeorm') ? 'typeorm' : 'memory';
  const store = given.store ?? moduleStore;
  if (store === 'typeorm' && moduleStore !== 'typeorm') {
    throw new AuthConfigError('loginThrottle.store', "'typeorm' uses the DataSource of the `store` option: set store: 'typeorm' too");
  }
  let redis: ResolvedLoginThrottleOptions['redis'];
  if (given.redis !== undefined) {
    const { url, client, keyPrefix } = given.redis;
    if ((url === undefined) === (client === undefined)) throw new AuthConfigError('loginThrottle.redis', 'needs exactly one of url and client');
    redis = { url, client, keyPrefix: keyPrefix ?? 'nest-auth:throttle:' };
  }
  if (store === 'redis' && !redis) throw new AuthConfigError('loginThrottle.redis', "store 'redis' needs redis: { url } or { client }");

  const key = fingerprintKeyOf(given.fingerprintKey, context.jwt);
  const checks = given.passwordChecks ?? {};
  const concurrency = checks.concurrency ?? Math.max(1, availableParallelism() - 1);
  const timeout = context.revocation?.storeTimeoutMs;
  return {
    enabled: given.enabled !== false,
    pacingMs: given.pacingMs === undefined ? 1000 : given.pacingMs || 0,
    deviceCookie: deviceCookieOf(given.deviceCookie, isObject(context.cookies) && context.cookies.enabled === true),
    clientAddress: given.clientAddress,
    perAccountAndIp: limitOf(given.perAccountAndIp, LOGIN_THROTTLE_DEFAULTS.perAccountAndIp),
    perAccount: limitOf(given.perAccount, LOGIN_THROTTLE_DEFAULTS.perAccount),
    perIp: limitOf(given.perIp, LOGIN_THROTTLE_DEFAULTS.perIp),
    refreshPerIp: limitOf(given.refreshPerIp, LOGIN_THROTTLE_DEFAULTS.refreshPerIp),
    store,
    dataSource: isObject(context.store) && typeof context.store.dataSource === 'string' ? context.store.dataSource : 'default',
    redis,
    fingerprintKey: key.key,
    fingerprintKeyIsRandom: key.random,
    storeTimeoutMs: given.storeTimeoutMs ?? (Number.isSafeInteger(timeout) ? (timeout as number) : 2000),
    passwordChecks: {
      concurrency,
      maxQueued: checks.maxQueued ?? 4 * concurrency,
      retryAfterSeconds: checks.retryAfterSeconds ?? 1,
    },
  };
}

/** On by default where the app already keeps browser sessions in cookies (`cookies.enabled`); `true` or `{…}` elsewhere. */
function deviceCookieOf(given: DeviceCookieOptions | boolean | undefined, cookieSessions: boolean): ResolvedDeviceCookieOptions | null {
  if (given === false || (given === undefined && !cookieSessions)) return null;
  const options = given === undefined || given === true ? {} : given;
  const secure = options.secure !== false;
  const name = options.name ?? (secure ? '__Host-nest-auth-device' : 'nest-auth-device');
  if (!secure && /^__(Host|Secure)-/i.test(name)) {
    throw new AuthConfigError('loginThrottle.deviceCookie.name', 'a __Host- or __Secure- cookie needs secure: true');
  }
  return {
    name,
    secure,
    maxAgeSeconds: (options.maxAgeDays ?? DEVICE_COOKIE_DEFAULTS.maxAgeDays) * 86_400,
    perDevice: limitOf(options.perDevice, DEVICE_COOKIE_DEFAULTS.perDevice)!,
  };
}

/** The fingerprint key: given, or derived from the JWT signing key (`deriveKey`, its own label), so every instance agrees. */
function fingerprintKeyOf(given: string | Buffer | undefined, jwt: LoginThrottleContext['jwt']): { key: Buffer; random: boolean } {
  if (given !== undefined) return { key: Buffer.from(given), random: false };
  const [material] = signingKeyMaterials(jwt);
  if (material) return { key: deriveKey(material, 'loginThrottleFingerprint'), random: false };
  return { key: randomBytes(32), random: true };
}
