import { resolveCookieOptions } from '../cookies/cookie.options.js';
import { resolveConfiguredApiKeys } from '../api-keys/configured-api-keys.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { JWS_ALGORITHMS, type JwsAlgorithm } from '../tokens/token.types.js';
import { DEFAULT_VERIFIED_TOKEN_CACHE_MB } from '../authentication/verified-token-cache.js';
import { isRevocationChannel } from '../revocation/resolve-channel.js';
import { resolveLoginThrottleOptions } from '../throttle/login-throttle.options.js';
import { resolveTrustedIssuers } from '../issuers/trusted-issuer.options.js';
import type {
  AuthModuleExtras,
  AuthModuleOptions,
  JwtOptions,
  ResolvedAuthOptions,
  ResolvedJwtOptions,
  RevocationOptions,
  StoresOptions,
} from './auth-options.js';

/** The option names, checked against the option types by the compiler: a key added there must be added here. */
const TOP_LEVEL = keysOf<AuthModuleOptions>({
  jwt: 1,
  users: 1,
  passwordHasher: 1,
  store: 1,
  stores: 1,
  revocation: 1,
  apiKeys: 1,
  publicRoutes: 1,
  audit: 1,
  clock: 1,
  loginThrottle: 1,
  cookies: 1,
  trustedIssuers: 1,
});
const EXTRAS = keysOf<AuthModuleExtras>({ globalGuard: 1, jwksRoute: 1, isGlobal: 1, requestContext: 1 });
const JWT_KEYS = keysOf<JwtOptions>({
  secret: 1,
  privateKey: 1,
  publicKey: 1,
  keys: 1,
  algorithms: 1,
  issuer: 1,
  audience: 1,
  accessTokenTtl: 1,
  refreshTokenTtl: 1,
  slidingSessions: 1,
  refreshReuseGraceSeconds: 1,
  clockTolerance: 1,
  header: 1,
  maxTokenLength: 1,
  maxTokenLifetime: 1,
  verifiedTokenCacheMb: 1,
});
const REVOCATION_KEYS = keysOf<RevocationOptions>({
  store: 1,
  syncIntervalMs: 1,
  consistency: 1,
  storeTimeoutMs: 1,
  channel: 1,
  channelSyncIntervalMs: 1,
});
const STORES_KEYS = keysOf<StoresOptions>({ sessions: 1, revocations: 1, cutoffs: 1, apiKeys: 1 });

/** The methods each store must have, so a wrong object fails the boot and not the first request. */
const STORE_METHODS: Readonly<Record<keyof StoresOptions, string[]>> = {
  sessions: ['create', 'find', 'rotate', 'rotatedOutAt', 'end', 'endAllForUser', 'listForUser', 'endedSince', 'purgeEndedBefore'],
  revocations: ['revoke', 'isRevoked', 'purgeExpired'],
  cutoffs: ['set', 'get', 'since', 'purgeOlderThan'],
  apiKeys: ['insert', 'findByPrefix', 'list', 'revoke', 'touch'],
};

function keysOf<T>(keys: Record<keyof Required<T>, 1>): readonly string[] {
  return Object.keys(keys);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKnown(value: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new AuthConfigError(prefix + key, 'unknown option');
  }
}

function positiveInt(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new AuthConfigError(option, 'must be a positive integer');
  }
  return value;
}

function nonNegative(value: unknown, option: string, integer: boolean): number {
  if (value === undefined) return 0;
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= 0 && (!integer || Number.isInteger(value));
  if (!ok) throw new AuthConfigError(option, `must be a ${integer ? 'non-negative integer' : 'non-negative number'}`);
  return value as number;
}

function optionalString(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new AuthConfigError(option, 'must be a non-empty string');
  return value;
}

function hasMethods(value: unknown, methods: string[]): boolean {
  return isObject(value) && methods.every((m) => typeof value[m] === 'function');
}

function resolveAlgorithms(value: unknown): JwsAlgorithm[] {
  if (value === undefined) return ['HS256'];
  if (!Array.isArray(value) || value.length === 0) throw new AuthConfigError('jwt.algorithms', 'must be a non-empty array');
  for (const alg of value) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw new AuthConfigError('jwt.algorithms', '"none" is refused: unsigned tokens are never accepted');
    }
    if (!(JWS_ALGORITHMS as readonly unknown[]).includes(alg)) {
      throw new AuthConfigError('jwt.algorithms', `unknown algorithm ${JSON.stringify(alg)} (allowed: ${JWS_ALGORITHMS.join(', ')})`);
    }
  }
  return [...new Set(value as JwsAlgorithm[])];
}

function resolveJwt(raw: unknown, trustedOnly = false): ResolvedJwtOptions {
  // Trusted issuers only: the defaults, no key, no algorithm (the ring is empty, issuing throws).
  if (raw === undefined && trustedOnly) return { ...resolveJwt({ secret: 'x'.repeat(32) }), secret: undefined, algorithms: [] };
  if (!isObject(raw)) {
    throw new AuthConfigError(
      'jwt',
      'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given',
    );
  }
  onlyKnown(raw, JWT_KEYS, 'jwt.');
  for (const key of ['secret', 'privateKey', 'publicKey'] as const) {
    // `secret: process.env.JWT_SECRET` with the variable unset: say so, rather than "no key".
    if (key in raw && (raw[key] === undefined || raw[key] === '')) {
      throw new AuthConfigError(
        `jwt.${key}`,
        `is empty (${raw[key] === '' ? "''" : 'undefined'}): if it comes from an environment variable, that variable is not set`,
      );
    }
  }
  const accessTokenTtl = positiveInt(raw.accessTokenTtl, 'jwt.accessTokenTtl', 900);
  const refreshTokenTtl = positiveInt(raw.refreshTokenTtl, 'jwt.refreshTokenTtl', 1_209_600);
  const audience = raw.audience;
  if (
    audience !== undefined &&
    !(typeof audience === 'string' && audience.length > 0) &&
    !(Array.isArray(audience) && audience.length > 0 && audience.every((a) => typeof a === 'string' && a.length > 0))
  ) {
    throw new AuthConfigError('jwt.audience', 'must be a non-empty string or a non-empty array of them');
  }
  if (raw.slidingSessions !== undefined && typeof raw.slidingSessions !== 'boolean') {
    throw new AuthConfigError('jwt.slidingSessions', 'must be a boolean');
  }
  const header = optionalString(raw.header, 'jwt.header')?.toLowerCase() ?? 'authorization';
  if (raw.keys !== undefined && (!Array.isArray(raw.keys) || raw.keys.length === 0)) {
    throw new AuthConfigError('jwt.keys', 'must be a non-empty array');
  }
  return {
    secret: raw.secret as ResolvedJwtOptions['secret'],
    privateKey: raw.privateKey as ResolvedJwtOptions['privateKey'],
    publicKey: raw.publicKey as ResolvedJwtOptions['publicKey'],
    keys: raw.keys as ResolvedJwtOptions['keys'],
    algorithms: resolveAlgorithms(raw.algorithms),
    issuer: optionalString(raw.issuer, 'jwt.issuer'),
    audience: audience as string | string[] | undefined,
    accessTokenTtl,
    refreshTokenTtl,
    slidingSessions: raw.slidingSessions === true,
    refreshReuseGraceSeconds: nonNegative(raw.refreshReuseGraceSeconds, 'jwt.refreshReuseGraceSeconds', true),
    clockTolerance: nonNegative(raw.clockTolerance, 'jwt.clockTolerance', false),
    header,
    maxTokenLength: positiveInt(raw.maxTokenLength, 'jwt.maxTokenLength', 8192),
    maxTokenLifetime: positiveInt(raw.maxTokenLifetime, 'jwt.maxTokenLifetime', Math.max(accessTokenTtl, refreshTokenTtl)),
    verifiedTokenCacheMb:
      raw.verifiedTokenCacheMb === undefined
        ? DEFAULT_VERIFIED_TOKEN_CACHE_MB
        : nonNegative(raw.verifiedTokenCacheMb, 'jwt.verifiedTokenCacheMb', false),
  };
}

function resolveStore(raw: unknown): ResolvedAuthOptions['store'] {
  if (raw === undefined || raw === 'memory') return { type: 'memory' };
  if (raw === 'typeorm') return { type: 'typeorm', dataSource: 'default' };
  if (isObject(raw) && raw.type === 'typeorm') {
    onlyKnown(raw, ['type', 'dataSource'], 'store.');
    return { type: 'typeorm', dataSource: optionalString(raw.dataSource, 'store.dataSource') ?? 'default' };
  }
  if (raw === 'cache') return { type: 'cache', keyPrefix: 'nest-auth:', sessions: 'memory', dataSource: 'default' };
  if (isObject(raw) && raw.type === 'cache') {
    onlyKnown(raw, ['type', 'keyPrefix', 'sessions', 'dataSource'], 'store.');
    const keyPrefix = raw.keyPrefix ?? 'nest-auth:';
    if (typeof keyPrefix !== 'string') throw new AuthConfigError('store.keyPrefix', 'must be a string');
    const sessions = raw.sessions ?? 'memory';
    if (sessions !== 'memory' && sessions !== 'typeorm') throw new AuthConfigError('store.sessions', "must be 'memory' or 'typeorm'");
    if (raw.dataSource !== undefined && sessions !== 'typeorm')
      throw new AuthConfigError('store.dataSource', "is used only with sessions: 'typeorm'");
    return { type: 'cache', keyPrefix, sessions, dataSource: optionalString(raw.dataSource, 'store.dataSource') ?? 'default' };
  }
  throw new AuthConfigError(
    'store',
    "must be 'memory', 'typeorm', 'cache', { type: 'typeorm', dataSource: 'name' } or { type: 'cache', keyPrefix, sessions }",
  );
}

function resolveRevocation(raw: unknown): ResolvedAuthOptions['revocation'] & { store?: RevocationOptions['store'] } {
  if (raw === undefined) return { syncIntervalMs: 1000, consistency: 'cached', storeTimeoutMs: 2000, channelSyncIntervalMs: 10_000 };
  if (!isObject(raw)) throw new AuthConfigError('revocation', 'must be an object');
  onlyKnown(raw, REVOCATION_KEYS, 'revocation.');
  if (raw.store !== undefined && !hasMethods(raw.store, ['revoke', 'isRevoked', 'purgeExpired'])) {
    throw new AuthConfigError('revocation.store', 'must implement RevocationStore (revoke, isRevoked, purgeExpired)');
  }
  const consistency = raw.consistency ?? 'cached';
  if (consistency !== 'cached' && consistency !== 'strict') {
    throw new AuthConfigError('revocation.consistency', "must be 'cached' or 'strict'");
  }
  if (consistency === 'cached' && raw.store !== undefined && typeof (raw.store as { revokedSince?: unknown }).revokedSince !== 'function') {
    throw new AuthConfigError(
      'revocation.store',
      "has no revokedSince(), so other instances' revocations could never reach the cache: implement it or use consistency: 'strict'",
    );
  }
  const syncIntervalMs = positiveInt(raw.syncIntervalMs, 'revocation.syncIntervalMs', 1000);
  const channelSyncIntervalMs = positiveInt(raw.channelSyncIntervalMs, 'revocation.channelSyncIntervalMs', Math.max(10 * syncIntervalMs, 10_000));
  if (channelSyncIntervalMs < syncIntervalMs)
    throw new AuthConfigError('revocation.channelSyncIntervalMs', 'must be at least revocation.syncIntervalMs');
  const channel: unknown = raw.channel;
  if (
    channel !== undefined &&
    !['auto', 'none', 'postgres'].includes(channel as string) &&
    !(isObject(channel) && (channel.type === 'postgres' || channel.type === 'redis')) &&
    !isRevocationChannel(channel)
  ) {
    throw new AuthConfigError('revocation.channel', "must be 'auto', 'none', 'postgres', { type: 'postgres' | 'redis', ... } or a RevocationChannel");
  }
  if (isObject(channel) && typeof channel.channel === 'string' && !/^[a-z_][a-z0-9_]{0,62}$/.test(channel.channel)) {
    throw new AuthConfigError('revocation.channel', 'channel names are lower-case letters, digits and _ (at most 63)');
  }
  return {
    store: raw.store as RevocationOptions['store'],
    syncIntervalMs,
    consistency,
    storeTimeoutMs: positiveInt(raw.storeTimeoutMs, 'revocation.storeTimeoutMs', 2000),
    channel: channel as RevocationOptions['channel'],
    channelSyncIntervalMs,
  };
}

function resolveApiKeys(raw: unknown): ResolvedAuthOptions['apiKeys'] {
  if (raw === undefined) return { enabled: false, header: 'x-api-key', keys: [] };
  if (!isObject(raw)) throw new AuthConfigError('apiKeys', 'must be an object');
  onlyKnown(raw, ['enabled', 'header', 'pepper', 'keys'], 'apiKeys.');
  if (typeof raw.enabled !== 'boolean') throw new AuthConfigError('apiKeys.enabled', 'must be a boolean');
  const pepper = raw.pepper as string | Buffer | undefined;
  if (pepper !== undefined && !((typeof pepper === 'string' || Buffer.isBuffer(pepper)) && Buffer.byteLength(pepper) >= 32)) {
    throw new AuthConfigError('apiKeys.pepper', 'must be a string or Buffer of at least 32 bytes');
  }
  return {
    enabled: raw.enabled,
    header: optionalString(raw.header, 'apiKeys.header')?.toLowerCase() ?? 'x-api-key',
    pepper,
    keys: resolveConfiguredApiKeys(raw.keys, raw.enabled),
  };
}

function resolveStores(raw: unknown, revocationStore: RevocationOptions['store'], consistency: string): StoresOptions {
  if (raw !== undefined && !isObject(raw)) throw new AuthConfigError('stores', 'must be an object');
  const given = (raw ?? {}) as Record<string, unknown>;
  onlyKnown(given, STORES_KEYS, 'stores.');
  for (const [name, methods] of Object.entries(STORE_METHODS)) {
    const store = given[name];
    if (store !== undefined && !hasMethods(store, methods)) {
      throw new AuthConfigError(`stores.${name}`, `must implement ${methods.join(', ')}`);
    }
  }
  if (revocationStore !== undefined && given.revocations !== undefined) {
    throw new AuthConfigError('revocation.store', 'and stores.revocations both given: keep one');
  }
  const revocations = (given.revocations ?? revocationStore) as StoresOptions['revocations'];
  if (consistency === 'cached' && revocations !== undefined && typeof revocations.revokedSince !== 'function') {
    const option = revocationStore !== undefined ? 'revocation.store' : 'stores.revocations';
    throw new AuthConfigError(
      option,
      "has no revokedSince(), so other instances' revocations could never reach the cache: implement it or use consistency: 'strict'",
    );
  }
  return { ...(given as StoresOptions), revocations };
}

/** Validates what the app gave and fills the defaults. Throws `AuthConfigError` naming the option. */
export function resolveAuthOptions(raw: AuthModuleOptions): ResolvedAuthOptions {
  // Not isObject(): its type guard would turn the (all-optional) options into a Record of unknowns.
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AuthConfigError('options', 'AuthModule needs an options object');
  for (const key of Object.keys(raw)) {
    if (EXTRAS.includes(key)) {
      throw new AuthConfigError(key, 'shapes the module itself: give it to forRootAsync() beside useFactory, not in the options the factory returns');
    }
  }
  onlyKnown(raw as unknown as Record<string, unknown>, TOP_LEVEL, '');
  if (raw.users !== undefined && typeof raw.users !== 'function' && !hasMethods(raw.users, ['findByUsername', 'findById'])) {
    throw new AuthConfigError('users', 'must be a UserProvider class or instance (findByUsername, findById)');
  }
  if (raw.passwordHasher !== undefined && !hasMethods(raw.passwordHasher, ['hash', 'verify'])) {
    throw new AuthConfigError('passwordHasher', 'must implement PasswordHasher (hash, verify)');
  }
  if (raw.clock !== undefined && !hasMethods(raw.clock, ['now'])) throw new AuthConfigError('clock', 'must be an AuthClock ({ now(): number })');
  if (raw.audit !== undefined && !hasMethods(raw.audit, ['emit'])) {
    throw new AuthConfigError('audit', 'must be an AuditSink (emit)');
  }
  let invalidToken: 'ignore' | 'reject' = 'ignore';
  if (raw.publicRoutes !== undefined) {
    if (!isObject(raw.publicRoutes)) throw new AuthConfigError('publicRoutes', 'must be an object');
    onlyKnown(raw.publicRoutes, ['invalidToken'], 'publicRoutes.');
    const v = raw.publicRoutes.invalidToken ?? 'ignore';
    if (v !== 'ignore' && v !== 'reject') throw new AuthConfigError('publicRoutes.invalidToken', "must be 'ignore' or 'reject'");
    invalidToken = v;
  }
  const { store: revocationStore, ...revocation } = resolveRevocation(raw.revocation);
  const store = resolveStore(raw.store);
  if (store.type === 'cache') {
    // A cache has no change log to poll: its revocations reach this instance by a read per request.
    if (isObject(raw.revocation) && raw.revocation.consistency === 'cached') {
      throw new AuthConfigError('revocation.consistency', "'cached' needs a change log, which store: 'cache' cannot keep: leave it unset ('strict')");
    }
    revocation.consistency = 'strict';
  }
  const { jwt: rawJwt, trustedIssuers: issuers } = raw as { jwt?: unknown; trustedIssuers?: unknown };
  const trustedOnly = rawJwt === undefined && Array.isArray(issuers) && issuers.length > 0;
  const jwt = resolveJwt(rawJwt, trustedOnly);
  return {
    trustedIssuers: resolveTrustedIssuers(issuers, jwt.issuer),
    issuesTokens: !trustedOnly,
    jwt,
    users: raw.users,
    passwordHasher: raw.passwordHasher,
    store,
    stores: resolveStores(raw.stores, revocationStore, revocation.consistency),
    revocation,
    apiKeys: resolveApiKeys(raw.apiKeys),
    publicRoutes: { invalidToken },
    audit: raw.audit,
    cookies: resolveCookieOptions(raw.cookies, jwt),
    clock: raw.clock ?? { now: Date.now },
    loginThrottle: resolveLoginThrottleOptions(raw.loginThrottle, raw as never),
  };
}

/** The extras, checked while the module is defined (they decide its providers and routes). */
export function resolveExtras(raw: AuthModuleExtras): Required<Omit<AuthModuleExtras, 'jwksRoute'>> & { jwksPath: string | undefined } {
  if (raw.globalGuard !== undefined && typeof raw.globalGuard !== 'boolean') throw new AuthConfigError('globalGuard', 'must be a boolean');
  if (raw.isGlobal !== undefined && typeof raw.isGlobal !== 'boolean') throw new AuthConfigError('isGlobal', 'must be a boolean');
  if (raw.requestContext !== undefined && typeof raw.requestContext !== 'boolean' && raw.requestContext !== 'auto') {
    throw new AuthConfigError('requestContext', "must be true, false or 'auto'");
  }
  const jwksRoute = raw.jwksRoute;
  if (jwksRoute !== undefined && typeof jwksRoute !== 'boolean' && (typeof jwksRoute !== 'string' || jwksRoute.length === 0)) {
    throw new AuthConfigError('jwksRoute', 'must be true, false or a route path');
  }
  return {
    globalGuard: raw.globalGuard ?? true,
    isGlobal: raw.isGlobal ?? true,
    requestContext: raw.requestContext ?? 'auto',
    jwksPath: jwksRoute === true ? '.well-known/jwks.json' : jwksRoute || undefined,
  };
}
