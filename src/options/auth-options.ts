import type { KeyObject } from 'node:crypto';
import type { Type } from '@nestjs/common';
import type { ApiKeyStore } from '../api-keys/api-key.types.js';
import { configuredApiKeysSchema, type ResolvedConfiguredApiKey } from '../api-keys/configured-api-keys.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { AuthClock } from '../clock/auth-clock.js';
import { cookiesSchema, type ResolvedCookieOptions } from '../cookies/cookie.options.js';
import type { ResolvedTrustedIssuer, TrustedIssuerOptions } from '../issuers/trusted-issuer.options.js';
import {
  bool,
  check,
  group,
  implementing,
  isObject,
  nonEmptyString,
  nonNegative,
  oneOf,
  positiveInt,
  secretBytes,
  z,
} from '../option-schema/option-schema.js';
import { isRevocationChannel, type RevocationChannelOption } from '../revocation/resolve-channel.js';
import type { RevocationStore, UserCutoffStore } from '../revocation/revocation-store.js';
import type { SessionStore } from '../sessions/session-store.js';
import { loginThrottleSchema, type ResolvedLoginThrottleOptions } from '../throttle/login-throttle.options.js';
import { JWS_ALGORITHMS, type JwsAlgorithm, type JwtKeyOptions } from '../tokens/token.types.js';
import type { PasswordHasher, UserProvider } from '../users/user.types.js';

export type { AuthClock } from '../clock/auth-clock.js';

/*
 * The options of `AuthModule.forRoot()`, declared once: the types apps write them against (`z.input` of these
 * schemas) and their validation at boot (each rule with the message it fails with) come from the same lines.
 * What ties one option to another (defaults computed from others, a `__Host-` cookie and `domain`, two revocation
 * stores given) is checked by the resolvers in resolve-options.ts and in the features' option files.
 */

type KeyInput = string | Buffer | KeyObject;
/** Any key value: the key ring imports and checks it (naming the option), the schema only refuses an empty one. */
const keyInput = () => z.custom<KeyInput>(() => true);

const algorithms = check<JwsAlgorithm[]>((v) => Array.isArray(v) && v.length > 0, 'must be a non-empty array').superRefine((value, ctx) => {
  for (const alg of value as unknown[]) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      ctx.addIssue({ code: 'custom', message: '"none" is refused: unsigned tokens are never accepted', input: value });
      return;
    }
    if (!(JWS_ALGORITHMS as readonly unknown[]).includes(alg)) {
      ctx.addIssue({ code: 'custom', message: `unknown algorithm ${JSON.stringify(alg)} (allowed: ${JWS_ALGORITHMS.join(', ')})`, input: value });
      return;
    }
  }
});

export const jwtSchema = group(
  {
    /** HMAC secret for HS256/384/512 (at least 32 bytes, and at least the hash size). */
    secret: keyInput().optional(),
    /** PEM or KeyObject for RS*, PS*, ES*, EdDSA. */
    privateKey: keyInput().optional(),
    publicKey: keyInput().optional(),
    /** Key ring for rotation: signs with the first, verifies with any (by `kid`). */
    keys: check<JwtKeyOptions[]>((v) => Array.isArray(v) && v.length > 0, 'must be a non-empty array').optional(),
    /** Allowed algorithms [['HS256']]; `none` is refused. */
    algorithms: algorithms.optional(),
    /** Set on issued tokens and required on verified ones. */
    issuer: nonEmptyString().optional(),
    audience: check<string | string[]>(
      (v) => (typeof v === 'string' && v.length > 0) || (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === 'string' && a.length > 0)),
      'must be a non-empty string or a non-empty array of them',
    ).optional(),
    /** Seconds [900]. */
    accessTokenTtl: positiveInt().optional(),
    /** Seconds [1209600 = 14 days], counted from login. */
    refreshTokenTtl: positiveInt().optional(),
    /** Count `refreshTokenTtl` from the last refresh instead of from login [false]. */
    slidingSessions: bool().optional(),
    /** A rotated-out refresh token presented this soon is refused without ending the session [0]. */
    refreshReuseGraceSeconds: nonNegative(true).optional(),
    /** Seconds of leeway for exp/nbf/iat [0]. */
    clockTolerance: nonNegative(false).optional(),
    /** Header that carries the token ['authorization', scheme Bearer]; another header carries the raw token. */
    header: nonEmptyString().optional(),
    /** Longest token accepted, in characters, checked before any parsing [8192]. */
    maxTokenLength: positiveInt().optional(),
    /** Longest `exp - iat` accepted on a verified token, in seconds [max(accessTokenTtl, refreshTokenTtl)]. */
    maxTokenLifetime: positiveInt().optional(),
    /** Memory for tokens that already passed the verifier, in MiB (about 150 bytes a login token: 32 MiB ≈ 200,000 users); 0 turns it off [32]. */
    verifiedTokenCacheMb: nonNegative(false).optional(),
  },
  'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given',
);

export type JwtOptions = z.input<typeof jwtSchema>;

/** `{ type: 'cache', … }`: where the cache store keeps what, and under which prefix. */
const cacheStoreSchema = group({
  type: z.literal('cache'),
  /** Prepended to every key the module writes to the cache ['nest-auth:']. */
  keyPrefix: check<string>((v) => typeof v === 'string', 'must be a string').optional(),
  /** Where the sessions (refresh chains) and API keys live: this instance's `'memory'` [default] or `'typeorm'`. */
  sessions: oneOf(['memory', 'typeorm'], "must be 'memory' or 'typeorm'").optional(),
  /** The TypeORM DataSource with `sessions: 'typeorm'` ['default']. */
  dataSource: nonEmptyString().optional(),
});

/**
 * `store: 'cache'`: revoked tokens, cut-offs and ended sessions in the app's `CACHE_MANAGER` (`@nestjs/cache-manager`;
 * Redis through `@keyv/redis` shares them between instances), read on every request (`consistency: 'strict'`).
 */
export type CacheStoreOptions = z.input<typeof cacheStoreSchema>;

export const storeSchema = z.union(
  [
    oneOf(['memory', 'typeorm', 'cache'], ''),
    group({ type: z.literal('typeorm'), /** ['default'] */ dataSource: nonEmptyString().optional() }),
    cacheStoreSchema,
  ],
  { error: "must be 'memory', 'typeorm', 'cache', { type: 'typeorm', dataSource: 'name' } or { type: 'cache', keyPrefix, sessions }" },
);

export type StoreOption = z.input<typeof storeSchema>;

/** The methods each store must have, so a wrong object fails the boot and not the first request. */
export const STORE_METHODS = {
  sessions: ['create', 'find', 'rotate', 'rotatedOutAt', 'end', 'endAllForUser', 'listForUser', 'endedSince', 'purgeEndedBefore'],
  revocations: ['revoke', 'isRevoked', 'purgeExpired'],
  cutoffs: ['set', 'get', 'since', 'purgeOlderThan'],
  apiKeys: ['insert', 'findByPrefix', 'list', 'revoke', 'touch'],
} as const;

const store = <T>(name: keyof typeof STORE_METHODS) => implementing<T>(STORE_METHODS[name], `must implement ${STORE_METHODS[name].join(', ')}`);

/**
 * `'cache'` (or `{ type: 'cache', keyPrefix }`) where a revocation store is chosen: revocations, cut-offs and the ends
 * of sessions in the app's `CACHE_MANAGER`, the sessions and API keys where `store` keeps them.
 */
const cacheRevocationsSchema = z.union([
  z.literal('cache'),
  group({ type: z.literal('cache'), /** ['nest-auth:'] */ keyPrefix: check<string>((v) => typeof v === 'string', 'must be a string').optional() }),
]);

/** A `RevocationStore` of your own, or the cache (`'cache'`, `{ type: 'cache', keyPrefix }`). */
const revocationStoreChoice = (message: string) =>
  z.union([cacheRevocationsSchema, implementing<RevocationStore>(STORE_METHODS.revocations, '')], { error: message });

export const storesSchema = group({
  sessions: store<SessionStore>('sessions').optional(),
  /** Your own `RevocationStore`, or `'cache'`: the app's `CACHE_MANAGER` (see `store: 'cache'`). */
  revocations: revocationStoreChoice(`must implement ${STORE_METHODS.revocations.join(', ')}, or be 'cache'`).optional(),
  cutoffs: store<UserCutoffStore>('cutoffs').optional(),
  apiKeys: store<ApiKeyStore>('apiKeys').optional(),
});

/** Stores of your own, each replacing the one `store` gives. */
export type StoresOptions = z.input<typeof storesSchema>;

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const revocationSchema = group({
  /** Replaces the revocation store that `store` gives (kept for compatibility; see `stores.revocations`); `'cache'`: the app's `CACHE_MANAGER`. */
  store: revocationStoreChoice("must implement RevocationStore (revoke, isRevoked, purgeExpired), or be 'cache'").optional(),
  /** How soon (ms) an instance learns other instances' revocations in `cached` mode [1000]. */
  syncIntervalMs: positiveInt().optional(),
  /** `cached` [default]: in memory, polled; `strict`: the store on every request (always with `store: 'cache'`). */
  consistency: oneOf(['cached', 'strict'], "must be 'cached' or 'strict'").optional(),
  /** The longest any store call may take before it counts as a failure (503 `auth_unavailable`) [2000]. */
  storeTimeoutMs: positiveInt().optional(),
  /**
   * Where revocations are pushed to the other instances at once, polling staying as the safety net:
   * `'auto'` [default: PostgreSQL LISTEN/NOTIFY when the TypeORM store is on PostgreSQL, else none], `'none'`,
   * `'postgres'`, `{ type: 'redis', url?, channel? }` (needs ioredis), or a `RevocationChannel`.
   */
  channel: check<RevocationChannelOption>(
    (v) =>
      v === 'auto' || v === 'none' || v === 'postgres' || (isObject(v) && (v.type === 'postgres' || v.type === 'redis')) || isRevocationChannel(v),
    "must be 'auto', 'none', 'postgres', { type: 'postgres' | 'redis', ... } or a RevocationChannel",
  )
    .refine(
      (v) => !(isObject(v) && typeof v.channel === 'string' && !CHANNEL_NAME.test(v.channel)),
      'channel names are lower-case letters, digits and _ (at most 63)',
    )
    .optional(),
  /** @deprecated Accepted and ignored: the gate polls every `syncIntervalMs` whatever its channel's state (a channel only hints). */
  channelSyncIntervalMs: positiveInt().optional(),
});

export type RevocationOptions = z.input<typeof revocationSchema>;

export const apiKeysSchema = group({
  enabled: bool(),
  /** ['x-api-key'] */
  header: nonEmptyString().optional(),
  /** Server-side secret mixed into the stored key hash; at least 32 bytes [a fixed label]. */
  pepper: secretBytes(32).optional(),
  /** Keys from the configuration (a secret manager, the environment), checked before the store's [none]. */
  keys: configuredApiKeysSchema.optional(),
});

export type ApiKeysOptions = z.input<typeof apiKeysSchema>;
export type { ConfiguredApiKey } from '../api-keys/configured-api-keys.js';

/**
 * The whole of `AuthModule.forRoot()`'s options, in the order they are checked (a problem in an earlier one is the
 * one reported).
 */
export const authModuleOptionsSchema = group(
  {
    /** A `UserProvider` class (resolved from the app's container, or built) or instance. Login and refresh need one. */
    users: check<Type<UserProvider> | UserProvider>(
      (v) => typeof v === 'function' || implementsAll(v, ['findByUsername', 'findById']),
      'must be a UserProvider class or instance (findByUsername, findById)',
    ).optional(),
    /** [argon2id] */
    passwordHasher: implementing<PasswordHasher>(['hash', 'verify'], 'must implement PasswordHasher (hash, verify)').optional(),
    /** [Date.now] */
    clock: implementing<AuthClock>(['now'], 'must be an AuthClock ({ now(): number })').optional(),
    /** Where audit events go [one structured line per event through Nest's Logger]. */
    audit: implementing<AuditSink>(['emit'], 'must be an AuditSink (emit)').optional(),
    /** `'ignore'` [default] or `'reject'` an invalid token sent to a `@Public()` route. */
    publicRoutes: group({ invalidToken: oneOf(['ignore', 'reject'], "must be 'ignore' or 'reject'").optional() }).optional(),
    revocation: revocationSchema.optional(),
    /** Where sessions, revocations, cut-offs and API keys live ['memory']. */
    store: storeSchema.optional(),
    /** The app's own tokens; optional with `trustedIssuers` (the app then issues none). */
    jwt: jwtSchema.optional(),
    /** Identity providers whose access tokens authenticate calls too (README, "Trusted issuers"); checked by their own resolver. */
    trustedIssuers: z.custom<TrustedIssuerOptions[]>(() => true).optional(),
    stores: storesSchema.optional(),
    /** API key authentication [off]. */
    apiKeys: apiKeysSchema.optional(),
    /** Carry the session in httpOnly cookies for browsers, with CSRF protection [off]. */
    cookies: cookiesSchema.optional(),
    /** Failed-login limits and the bounded password-check queue [on, see README]; `false` turns the counting off. */
    loginThrottle: z.union([z.literal(false), loginThrottleSchema], { error: 'must be an object' }).optional(),
  },
  'AuthModule needs an options object',
);

function implementsAll(value: unknown, methods: readonly string[]): boolean {
  return isObject(value) && methods.every((m) => typeof value[m] === 'function');
}

/** The options of `AuthModule.forRoot()` (and what `forRootAsync`'s factory returns). */
// An interface, not a type alias, so editors and compiler errors name it instead of spelling out the schema's type.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthModuleOptions extends z.input<typeof authModuleOptionsSchema> {}

/** Settings that shape the module itself (its providers and routes), given beside the options. */
export const authModuleExtrasSchema = group({
  /** Register `NestAuthGuard` as APP_GUARD, so every route is private by default [true]. */
  globalGuard: bool().optional(),
  /** Serve the public keys as a JWK Set: `true` for `/.well-known/jwks.json`, or a path [off]. */
  jwksRoute: check<boolean | string>(
    (v) => typeof v === 'boolean' || (typeof v === 'string' && v.length > 0),
    'must be true, false or a route path',
  ).optional(),
  /** Make the module's providers visible everywhere [true]. */
  isGlobal: bool().optional(),
  /**
   * Bind the request context (AsyncLocalStorage, which `logout()`, `refreshCurrentSessionToken()`, `listSessions()`,
   * `endSession()` and `login()`'s throttle and CSRF check read) to guarded handlers ['auto']. `'auto'`: only to
   * handlers whose class reaches `AuthService` (or `LoginThrottle`) through dependency injection, or injects
   * `ModuleRef`; the others run without it, since on Node 20 an entered AsyncLocalStorage costs every promise of the
   * process. `true`: to every guarded handler. `false`: to none (no interceptor); the context-bound methods refuse
   * and `login()` sees no caller address (the throttle counts per account only).
   */
  requestContext: check<boolean | 'auto'>((v) => typeof v === 'boolean' || v === 'auto', "must be true, false or 'auto'").optional(),
});

/** Settings that shape the module itself (its providers and routes), given beside the options. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface AuthModuleExtras extends z.input<typeof authModuleExtrasSchema> {}

type Defaulted<T, K extends keyof T> = Required<Pick<T, K>> & Omit<T, K>;

/** `jwt` after defaults: what the key ring and the verifier are built from. */
export type ResolvedJwtOptions = Defaulted<
  z.output<typeof jwtSchema>,
  | 'algorithms'
  | 'accessTokenTtl'
  | 'refreshTokenTtl'
  | 'slidingSessions'
  | 'refreshReuseGraceSeconds'
  | 'clockTolerance'
  | 'header'
  | 'maxTokenLength'
  | 'maxTokenLifetime'
  | 'verifiedTokenCacheMb'
>;

type ParsedRevocation = z.output<typeof revocationSchema>;

export interface ResolvedAuthOptions {
  jwt: ResolvedJwtOptions;
  users?: Type<UserProvider> | UserProvider;
  passwordHasher?: PasswordHasher;
  store:
    | { type: 'memory' }
    | { type: 'typeorm'; dataSource: string }
    | { type: 'cache'; keyPrefix: string; sessions: 'memory' | 'typeorm'; dataSource: string };
  /** The stores of the app's own; `'cache'` given for the revocations is resolved into `store` instead. */
  stores: { sessions?: SessionStore; revocations?: RevocationStore; cutoffs?: UserCutoffStore; apiKeys?: ApiKeyStore };
  revocation: Defaulted<Omit<ParsedRevocation, 'store'>, 'syncIntervalMs' | 'consistency' | 'storeTimeoutMs' | 'channelSyncIntervalMs'>;
  /** `keys` as digests only: the resolved options never hold a key in clear. */
  apiKeys: Defaulted<Omit<z.output<typeof apiKeysSchema>, 'keys'>, 'header'> & { keys: ResolvedConfiguredApiKey[] };
  publicRoutes: { invalidToken: 'ignore' | 'reject' };
  audit?: AuditSink;
  clock: AuthClock;
  loginThrottle: ResolvedLoginThrottleOptions;
  cookies: ResolvedCookieOptions;
  trustedIssuers: readonly ResolvedTrustedIssuer[];
  /** False with `trustedIssuers` and no `jwt`: login, refresh and createToken are off. */
  issuesTokens: boolean;
}
