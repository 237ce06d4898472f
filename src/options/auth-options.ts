import type { KeyObject } from 'node:crypto';
import type { Type } from '@nestjs/common';
import type { ApiKeyStore } from '../api-keys/api-key.types.js';
import type { ResolvedConfiguredApiKey } from '../api-keys/configured-api-keys.js';
import type { AuditSink } from '../audit/audit-event.js';
import type { AuthClock } from '../clock/auth-clock.js';
import type { CookiesOptions, ResolvedCookieOptions } from '../cookies/cookie.options.js';
import type { RevocationStore, UserCutoffStore } from '../revocation/revocation-store.js';
import type { RevocationChannelOption } from '../revocation/resolve-channel.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { LoginThrottleOptions, ResolvedLoginThrottleOptions } from '../throttle/login-throttle.options.js';
import type { JwsAlgorithm, JwtKeyOptions } from '../tokens/token.types.js';
import type { ResolvedTrustedIssuer, TrustedIssuerOptions } from '../issuers/trusted-issuer.options.js';
import type { PasswordHasher, UserProvider } from '../users/user.types.js';

export interface JwtOptions {
  /** HMAC secret for HS256/384/512 (at least 32 bytes, and at least the hash size). */
  secret?: string | Buffer | KeyObject;
  /** PEM or KeyObject for RS*, PS*, ES*, EdDSA. */
  privateKey?: string | Buffer | KeyObject;
  publicKey?: string | Buffer | KeyObject;
  /** Key ring for rotation: signs with the first, verifies with any (by `kid`). */
  keys?: JwtKeyOptions[];
  /** Allowed algorithms [['HS256']]; `none` is refused. */
  algorithms?: JwsAlgorithm[];
  /** Set on issued tokens and required on verified ones. */
  issuer?: string;
  audience?: string | string[];
  /** Seconds [900]. */
  accessTokenTtl?: number;
  /** Seconds [1209600 = 14 days], counted from login. */
  refreshTokenTtl?: number;
  /** Count `refreshTokenTtl` from the last refresh instead of from login [false]. */
  slidingSessions?: boolean;
  /** A rotated-out refresh token presented this soon is refused without ending the session [0]. */
  refreshReuseGraceSeconds?: number;
  /** Seconds of leeway for exp/nbf/iat [0]. */
  clockTolerance?: number;
  /** Header that carries the token ['authorization', scheme Bearer]; another header carries the raw token. */
  header?: string;
  /** Longest token accepted, in characters, checked before any parsing [8192]. */
  maxTokenLength?: number;
  /** Longest `exp - iat` accepted on a verified token, in seconds [max(accessTokenTtl, refreshTokenTtl)]. */
  maxTokenLifetime?: number;
  /** Memory for tokens that already passed the verifier, in MiB (about 150 bytes a login token: 32 MiB ≈ 200,000 users); 0 turns it off [32]. */
  verifiedTokenCacheMb?: number;
}

export type StoreOption = 'memory' | 'typeorm' | { type: 'typeorm'; dataSource?: string } | 'cache' | CacheStoreOptions;

/**
 * `store: 'cache'`: revoked tokens, cut-offs and ended sessions in the app's `CACHE_MANAGER` (`@nestjs/cache-manager`;
 * Redis through `@keyv/redis` shares them between instances), read on every request (`consistency: 'strict'`).
 */
export interface CacheStoreOptions {
  type: 'cache';
  /** Prepended to every key the module writes to the cache ['nest-auth:']. */
  keyPrefix?: string;
  /** Where the sessions (refresh chains) and API keys live: this instance's `'memory'` [default] or `'typeorm'`. */
  sessions?: 'memory' | 'typeorm';
  /** The TypeORM DataSource with `sessions: 'typeorm'` ['default']. */
  dataSource?: string;
}

export interface RevocationOptions {
  /** Replaces the revocation store that `store` gives (kept for compatibility; see `stores.revocations`). */
  store?: RevocationStore;
  /** How soon (ms) an instance learns other instances' revocations in `cached` mode [1000]. */
  syncIntervalMs?: number;
  /** `cached` [default]: in memory, polled; `strict`: the store on every request (always with `store: 'cache'`). */
  consistency?: 'cached' | 'strict';
  /** The longest any store call may take before it counts as a failure (503 `auth_unavailable`) [2000]. */
  storeTimeoutMs?: number;
  /**
   * Where revocations are pushed to the other instances at once, polling staying as the safety net:
   * `'auto'` [default: PostgreSQL LISTEN/NOTIFY when the TypeORM store is on PostgreSQL, else none], `'none'`,
   * `'postgres'`, `{ type: 'redis', url?, channel? }` (needs ioredis), or a `RevocationChannel`.
   */
  channel?: RevocationChannelOption;
  /** @deprecated Accepted and ignored: the gate polls every `syncIntervalMs` whatever its channel's state (a channel only hints). */
  channelSyncIntervalMs?: number;
}

/** Stores of your own, each replacing the one `store` gives. */
export interface StoresOptions {
  sessions?: SessionStore;
  revocations?: RevocationStore;
  cutoffs?: UserCutoffStore;
  apiKeys?: ApiKeyStore;
}

/** An API key given in the configuration (`apiKeys.keys`), beside the keys in the store. */
export interface ConfiguredApiKey {
  /** Unique; in audit events, and the principal's id (`apikey:config:<name>`) when no `userId` is given. */
  name: string;
  /** The key in clear, for development (at least 32 characters). Production configuration gives `sha256` instead. */
  key?: string;
  /** The key's SHA-256 in hex: `printf %s "$KEY" | sha256sum`. */
  sha256?: string;
  /** Exactly the permissions a request with this key gets. */
  permissions: string[];
  /** The principal's `userId` [`apikey:config:<name>`]. */
  userId?: string;
}

export interface ApiKeysOptions {
  enabled: boolean;
  /** ['x-api-key'] */
  header?: string;
  /** Server-side secret mixed into the stored key hash; at least 32 bytes [a fixed label]. */
  pepper?: string | Buffer;
  /** Keys from the configuration (a secret manager, the environment), checked before the store's [none]. */
  keys?: ConfiguredApiKey[];
}

export type { AuthClock } from '../clock/auth-clock.js';

/** The options of `AuthModule.forRoot()` (and what `forRootAsync`'s factory returns). */
export interface AuthModuleOptions {
  /** The app's own tokens; optional with `trustedIssuers` (the app then issues none). */
  jwt?: JwtOptions;
  /** Identity providers whose access tokens authenticate calls too (README, "Trusted issuers"). */
  trustedIssuers?: TrustedIssuerOptions[];
  /** A `UserProvider` class (resolved from the app's container, or built) or instance. Login and refresh need one. */
  users?: Type<UserProvider> | UserProvider;
  /** [argon2id] */
  passwordHasher?: PasswordHasher;
  /** Where sessions, revocations, cut-offs and API keys live ['memory']. */
  store?: StoreOption;
  stores?: StoresOptions;
  revocation?: RevocationOptions;
  /** API key authentication [off]. */
  apiKeys?: ApiKeysOptions;
  /** `'ignore'` [default] or `'reject'` an invalid token sent to a `@Public()` route. */
  publicRoutes?: { invalidToken?: 'ignore' | 'reject' };
  /** Where audit events go [one structured line per event through Nest's Logger]. */
  audit?: AuditSink;
  /** [Date.now] */
  clock?: AuthClock;
  /** Failed-login limits and the bounded password-check queue [on, see README]; `false` turns the counting off. */
  loginThrottle?: LoginThrottleOptions | false;
  /** Carry the session in httpOnly cookies for browsers, with CSRF protection [off]. */
  cookies?: CookiesOptions;
}

/** Settings that shape the module itself (its providers and routes), given beside the options. */
export interface AuthModuleExtras {
  /** Register `NestAuthGuard` as APP_GUARD, so every route is private by default [true]. */
  globalGuard?: boolean;
  /** Serve the public keys as a JWK Set: `true` for `/.well-known/jwks.json`, or a path [off]. */
  jwksRoute?: boolean | string;
  /** Make the module's providers visible everywhere [true]. */
  isGlobal?: boolean;
  /**
   * Bind the request context (AsyncLocalStorage, which `logout()`, `refreshCurrentSessionToken()`, `listSessions()`,
   * `endSession()` and `login()`'s throttle and CSRF check read) to guarded handlers ['auto']. `'auto'`: only to
   * handlers whose class reaches `AuthService` (or `LoginThrottle`) through dependency injection, or injects
   * `ModuleRef`; the others run without it, since on Node 20 an entered AsyncLocalStorage costs every promise of the
   * process. `true`: to every guarded handler. `false`: to none (no interceptor); the context-bound methods refuse
   * and `login()` sees no caller address (the throttle counts per account only).
   */
  requestContext?: boolean | 'auto';
}

type Defaulted<T, K extends keyof T> = Required<Pick<T, K>> & Omit<T, K>;

/** `jwt` after defaults: what the key ring and the verifier are built from. */
export type ResolvedJwtOptions = Defaulted<
  JwtOptions,
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

export interface ResolvedAuthOptions {
  jwt: ResolvedJwtOptions;
  users?: Type<UserProvider> | UserProvider;
  passwordHasher?: PasswordHasher;
  store:
    | { type: 'memory' }
    | { type: 'typeorm'; dataSource: string }
    | { type: 'cache'; keyPrefix: string; sessions: 'memory' | 'typeorm'; dataSource: string };
  stores: StoresOptions;
  revocation: Defaulted<Omit<RevocationOptions, 'store'>, 'syncIntervalMs' | 'consistency' | 'storeTimeoutMs' | 'channelSyncIntervalMs'>;
  /** `keys` as digests only: the resolved options never hold a key in clear. */
  apiKeys: Defaulted<Omit<ApiKeysOptions, 'keys'>, 'header'> & { keys: ResolvedConfiguredApiKey[] };
  publicRoutes: { invalidToken: 'ignore' | 'reject' };
  audit?: AuditSink;
  clock: AuthClock;
  loginThrottle: ResolvedLoginThrottleOptions;
  cookies: ResolvedCookieOptions;
  trustedIssuers: readonly ResolvedTrustedIssuer[];
  /** False with `trustedIssuers` and no `jwt`: login, refresh and createToken are off. */
  issuesTokens: boolean;
}
