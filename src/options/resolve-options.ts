import { resolveConfiguredApiKeys } from '../api-keys/configured-api-keys.js';
import { DEFAULT_VERIFIED_TOKEN_CACHE_MB } from '../authentication/verified-token-cache.js';
import { resolveCookieOptions } from '../cookies/cookie.options.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { resolveTrustedIssuers } from '../issuers/trusted-issuer.options.js';
import { isObject, parseOption, type z } from '../option-schema/option-schema.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { resolveLoginThrottleOptions } from '../throttle/login-throttle.options.js';
import {
  authModuleExtrasSchema,
  authModuleOptionsSchema,
  type AuthModuleExtras,
  type AuthModuleOptions,
  type jwtSchema,
  type ResolvedAuthOptions,
  type ResolvedJwtOptions,
  type revocationSchema,
  type storeSchema,
  type storesSchema,
} from './auth-options.js';

const EXTRAS = Object.keys(authModuleExtrasSchema.shape);

type RevocationStoreChoice = NonNullable<z.output<typeof storesSchema>['revocations']>;

/** `'cache'` or `{ type: 'cache', keyPrefix }` given where a revocation store is chosen. */
function cacheChoice(value: RevocationStoreChoice | undefined): { keyPrefix?: string } | undefined {
  if (value === 'cache') return {};
  if (isObject(value) && value.type === 'cache') return { keyPrefix: value.keyPrefix as string | undefined };
  return undefined;
}

function resolveJwt(given: z.output<typeof jwtSchema>, raw: Record<string, unknown>): ResolvedJwtOptions {
  for (const key of ['secret', 'privateKey', 'publicKey'] as const) {
    // `secret: process.env.JWT_SECRET` with the variable unset: say so, rather than "no key".
    if (key in raw && (raw[key] === undefined || raw[key] === '')) {
      throw new AuthConfigError(
        `jwt.${key}`,
        `is empty (${raw[key] === '' ? "''" : 'undefined'}): if it comes from an environment variable, that variable is not set`,
      );
    }
  }
  const accessTokenTtl = given.accessTokenTtl ?? 900;
  const refreshTokenTtl = given.refreshTokenTtl ?? 1_209_600;
  return {
    ...given,
    algorithms: given.algorithms ? [...new Set(given.algorithms)] : ['HS256'],
    accessTokenTtl,
    refreshTokenTtl,
    slidingSessions: given.slidingSessions === true,
    refreshReuseGraceSeconds: given.refreshReuseGraceSeconds ?? 0,
    clockTolerance: given.clockTolerance ?? 0,
    header: given.header?.toLowerCase() ?? 'authorization',
    maxTokenLength: given.maxTokenLength ?? 8192,
    maxTokenLifetime: given.maxTokenLifetime ?? Math.max(accessTokenTtl, refreshTokenTtl),
    verifiedTokenCacheMb: given.verifiedTokenCacheMb ?? DEFAULT_VERIFIED_TOKEN_CACHE_MB,
  };
}

function resolveStore(given: z.output<typeof storeSchema> | undefined): ResolvedAuthOptions['store'] {
  if (given === undefined || given === 'memory') return { type: 'memory' };
  if (given === 'typeorm') return { type: 'typeorm', dataSource: 'default' };
  if (given === 'cache') return { type: 'cache', keyPrefix: 'nest-auth:', sessions: 'memory', dataSource: 'default' };
  if (given.type === 'typeorm') return { type: 'typeorm', dataSource: given.dataSource ?? 'default' };
  const sessions = given.sessions ?? 'memory';
  if (given.dataSource !== undefined && sessions !== 'typeorm') {
    throw new AuthConfigError('store.dataSource', "is used only with sessions: 'typeorm'");
  }
  return { type: 'cache', keyPrefix: given.keyPrefix ?? 'nest-auth:', sessions, dataSource: given.dataSource ?? 'default' };
}

const NO_REVOKED_SINCE =
  "has no revokedSince(), so other instances' revocations could never reach the cache: implement it or use consistency: 'strict'";

/** Validates what the app gave and fills the defaults. Throws `AuthConfigError` naming the option. */
export function resolveAuthOptions(raw: AuthModuleOptions): ResolvedAuthOptions {
  if (isObject(raw)) {
    for (const key of Object.keys(raw)) {
      if (EXTRAS.includes(key)) {
        throw new AuthConfigError(
          key,
          'shapes the module itself: give it to forRootAsync() beside useFactory, not in the options the factory returns',
        );
      }
    }
  }
  const given = parseOption(authModuleOptionsSchema, raw, '');
  const rawRevocation = (given.revocation ?? {}) as z.output<typeof revocationSchema>;
  const { store: revocationStore, ...revocationGiven } = rawRevocation;
  const syncIntervalMs = revocationGiven.syncIntervalMs ?? 1000;
  const revocation: ResolvedAuthOptions['revocation'] = {
    ...revocationGiven,
    syncIntervalMs,
    consistency: revocationGiven.consistency ?? 'cached',
    storeTimeoutMs: revocationGiven.storeTimeoutMs ?? 2000,
    channelSyncIntervalMs: revocationGiven.channelSyncIntervalMs ?? Math.max(10 * syncIntervalMs, 10_000),
  };
  if (revocation.channelSyncIntervalMs < syncIntervalMs) {
    throw new AuthConfigError('revocation.channelSyncIntervalMs', 'must be at least revocation.syncIntervalMs');
  }

  const givenStores = given.stores ?? {};
  if (revocationStore !== undefined && givenStores.revocations !== undefined) {
    throw new AuthConfigError('revocation.store', 'and stores.revocations both given: keep one');
  }
  const revocationsChoice = givenStores.revocations ?? revocationStore;
  const revocationsOption = revocationStore !== undefined ? 'revocation.store' : 'stores.revocations';
  let store = resolveStore(given.store);
  const cache = cacheChoice(revocationsChoice);
  if (cache !== undefined) {
    // The cache where the revocation store is chosen: the cache store's revocations, cut-offs and session ends; the
    // sessions and API keys stay where `store` keeps them (this instance's memory, or TypeORM).
    if (store.type === 'cache') {
      if (cache.keyPrefix !== undefined && cache.keyPrefix !== store.keyPrefix) {
        throw new AuthConfigError(`${revocationsOption}.keyPrefix`, 'differs from store.keyPrefix: give the prefix in one place');
      }
    } else {
      const dataSource = store.type === 'typeorm' ? store.dataSource : 'default';
      store = { type: 'cache', keyPrefix: cache.keyPrefix ?? 'nest-auth:', sessions: store.type, dataSource };
    }
  }
  const revocations = cache === undefined ? (revocationsChoice as RevocationStore | undefined) : undefined;

  if (store.type === 'cache') {
    // A cache has no change log to poll: its revocations reach this instance by a read per request.
    if (revocationGiven.consistency === 'cached') {
      const storeOption = cache !== undefined ? revocationsOption : 'store';
      throw new AuthConfigError(
        'revocation.consistency',
        `'cached' needs a change log, which ${storeOption}: 'cache' cannot keep: leave it unset ('strict')`,
      );
    }
    revocation.consistency = 'strict';
  }
  if (revocation.consistency === 'cached' && revocations !== undefined && typeof revocations.revokedSince !== 'function') {
    throw new AuthConfigError(revocationsOption, NO_REVOKED_SINCE);
  }

  const trustedOnly = given.jwt === undefined && Array.isArray(given.trustedIssuers) && given.trustedIssuers.length > 0;
  if (given.jwt === undefined && !trustedOnly) {
    throw new AuthConfigError(
      'jwt',
      'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given',
    );
  }
  // Trusted issuers only: the defaults, no key, no algorithm (the ring is empty, issuing throws).
  const jwt =
    given.jwt === undefined ? { ...resolveJwt({}, {}), algorithms: [] } : resolveJwt(given.jwt, (raw as { jwt: Record<string, unknown> }).jwt);
  const apiKeys = given.apiKeys ?? { enabled: false };
  return {
    trustedIssuers: resolveTrustedIssuers(given.trustedIssuers, jwt.issuer),
    issuesTokens: !trustedOnly,
    jwt,
    users: given.users,
    passwordHasher: given.passwordHasher,
    store,
    stores: { ...givenStores, revocations } as ResolvedAuthOptions['stores'],
    revocation,
    apiKeys: {
      enabled: apiKeys.enabled,
      header: apiKeys.header?.toLowerCase() ?? 'x-api-key',
      pepper: apiKeys.pepper,
      keys: resolveConfiguredApiKeys(apiKeys.keys, apiKeys.enabled),
    },
    publicRoutes: { invalidToken: given.publicRoutes?.invalidToken ?? 'ignore' },
    audit: given.audit,
    cookies: resolveCookieOptions(given.cookies, jwt),
    clock: given.clock ?? { now: Date.now },
    loginThrottle: resolveLoginThrottleOptions(given.loginThrottle, { store: given.store, jwt: given.jwt, revocation, cookies: given.cookies }),
  };
}

/** The extras, checked while the module is defined (they decide its providers and routes). */
export function resolveExtras(raw: AuthModuleExtras): Required<Omit<AuthModuleExtras, 'jwksRoute'>> & { jwksPath: string | undefined } {
  // Only the extras' own keys: forRoot() passes them together with the options, which resolveAuthOptions checks.
  const picked = Object.fromEntries(Object.entries(raw).filter(([key]) => EXTRAS.includes(key)));
  const given = parseOption(authModuleExtrasSchema, picked, '');
  return {
    globalGuard: given.globalGuard ?? true,
    isGlobal: given.isGlobal ?? true,
    requestContext: given.requestContext ?? 'auto',
    jwksPath: given.jwksRoute === true ? '.well-known/jwks.json' : given.jwksRoute || undefined,
  };
}
