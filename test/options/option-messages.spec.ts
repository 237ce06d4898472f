import { describe, expect, test } from '@jest/globals';
import { hkdfSync } from 'node:crypto';
import { AuthConfigError } from '../../src/index.js';
import { resolveCookieOptions } from '../../src/cookies/cookie.options.js';
import { DERIVED_KEY_LABELS, deriveKey, signingKeyMaterial } from '../../src/key-derivation/derive-key.js';
import { resolveAuthOptions, resolveExtras } from '../../src/options/resolve-options.js';
import { resolveLoginThrottleOptions } from '../../src/throttle/login-throttle.options.js';
import { unknownOption } from '../../src/option-schema/option-schema.js';

/**
 * The boot's messages, option by option: the option's path, what is wrong, the fix. The table was taken from the
 * hand-written resolvers the schema replaced (each row gave exactly this option and message there, but for the
 * "did you mean" they did not have), so a rule lost or reworded in the declaration fails here.
 */
const S = 'x'.repeat(32);

function refusal(run: () => unknown): { option: string; problem: string } | undefined {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AuthConfigError);
    const { option, message } = err as AuthConfigError;
    expect(message.startsWith(`AuthModule option "${option}": `)).toBe(true);
    return { option, problem: message.slice(`AuthModule option "${option}": `.length) };
  }
  return undefined;
}

const TABLE: Array<[unknown, string, string]> = [
  [null, 'options', 'AuthModule needs an options object'],
  [5, 'options', 'AuthModule needs an options object'],
  [[], 'options', 'AuthModule needs an options object'],
  [{}, 'jwt', 'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given'],
  [{ jwt: 5 }, 'jwt', 'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given'],
  [{ jwt: [] }, 'jwt', 'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given'],
  [{ jwt: { secret: '' } }, 'jwt.secret', "is empty (''): if it comes from an environment variable, that variable is not set"],
  [{ jwt: { secret: undefined } }, 'jwt.secret', 'is empty (undefined): if it comes from an environment variable, that variable is not set'],
  [{ jwt: { privateKey: '' } }, 'jwt.privateKey', "is empty (''): if it comes from an environment variable, that variable is not set"],
  [{ jwt: { secret: S, accessTokenTtl: 0 } }, 'jwt.accessTokenTtl', 'must be a positive integer'],
  [{ jwt: { secret: S, accessTokenTtl: 1.5 } }, 'jwt.accessTokenTtl', 'must be a positive integer'],
  [{ jwt: { secret: S, refreshTokenTtl: '5' } }, 'jwt.refreshTokenTtl', 'must be a positive integer'],
  [{ jwt: { secret: S, audience: '' } }, 'jwt.audience', 'must be a non-empty string or a non-empty array of them'],
  [{ jwt: { secret: S, audience: [] } }, 'jwt.audience', 'must be a non-empty string or a non-empty array of them'],
  [{ jwt: { secret: S, audience: ['a', 1] } }, 'jwt.audience', 'must be a non-empty string or a non-empty array of them'],
  [{ jwt: { secret: S, slidingSessions: 1 } }, 'jwt.slidingSessions', 'must be a boolean'],
  [{ jwt: { secret: S, header: '' } }, 'jwt.header', 'must be a non-empty string'],
  [{ jwt: { secret: S, keys: [] } }, 'jwt.keys', 'must be a non-empty array'],
  [{ jwt: { secret: S, keys: 'x' } }, 'jwt.keys', 'must be a non-empty array'],
  [{ jwt: { secret: S, algorithms: [] } }, 'jwt.algorithms', 'must be a non-empty array'],
  [{ jwt: { secret: S, algorithms: ['none'] } }, 'jwt.algorithms', '"none" is refused: unsigned tokens are never accepted'],
  [{ jwt: { secret: S, algorithms: ['NONE'] } }, 'jwt.algorithms', '"none" is refused: unsigned tokens are never accepted'],
  [
    { jwt: { secret: S, algorithms: ['HS999'] } },
    'jwt.algorithms',
    'unknown algorithm "HS999" (allowed: HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)',
  ],
  [{ jwt: { secret: S, algorithms: 'HS256' } }, 'jwt.algorithms', 'must be a non-empty array'],
  [{ jwt: { secret: S, issuer: '' } }, 'jwt.issuer', 'must be a non-empty string'],
  [{ jwt: { secret: S, refreshReuseGraceSeconds: 1.5 } }, 'jwt.refreshReuseGraceSeconds', 'must be a non-negative integer'],
  [{ jwt: { secret: S, clockTolerance: -1 } }, 'jwt.clockTolerance', 'must be a non-negative number'],
  [{ jwt: { secret: S, maxTokenLength: 0 } }, 'jwt.maxTokenLength', 'must be a positive integer'],
  [{ jwt: { secret: S, maxTokenLifetime: -5 } }, 'jwt.maxTokenLifetime', 'must be a positive integer'],
  [{ jwt: { secret: S, verifiedTokenCacheMb: -1 } }, 'jwt.verifiedTokenCacheMb', 'must be a non-negative number'],
  [
    { jwt: { secret: S }, store: 'mongo' },
    'store',
    "must be 'memory', 'typeorm', 'cache', { type: 'typeorm', dataSource: 'name' } or { type: 'cache', keyPrefix, sessions }",
  ],
  [{ jwt: { secret: S }, store: { type: 'typeorm', x: 1 } }, 'store.x', 'unknown option'],
  [{ jwt: { secret: S }, store: { type: 'typeorm', dataSource: '' } }, 'store.dataSource', 'must be a non-empty string'],
  [{ jwt: { secret: S }, store: { type: 'cache', keyPrefix: 5 } }, 'store.keyPrefix', 'must be a string'],
  [{ jwt: { secret: S }, store: { type: 'cache', sessions: 'redis' } }, 'store.sessions', "must be 'memory' or 'typeorm'"],
  [{ jwt: { secret: S }, store: { type: 'cache', dataSource: 'x' } }, 'store.dataSource', "is used only with sessions: 'typeorm'"],
  [{ jwt: { secret: S }, store: { type: 'cache', nope: 1 } }, 'store.nope', 'unknown option'],
  [
    { jwt: { secret: S }, store: { type: 'mongo' } },
    'store',
    "must be 'memory', 'typeorm', 'cache', { type: 'typeorm', dataSource: 'name' } or { type: 'cache', keyPrefix, sessions }",
  ],
  [
    { jwt: { secret: S }, store: {} },
    'store',
    "must be 'memory', 'typeorm', 'cache', { type: 'typeorm', dataSource: 'name' } or { type: 'cache', keyPrefix, sessions }",
  ],
  [
    { jwt: { secret: S }, store: 5 },
    'store',
    "must be 'memory', 'typeorm', 'cache', { type: 'typeorm', dataSource: 'name' } or { type: 'cache', keyPrefix, sessions }",
  ],
  [
    { jwt: { secret: S }, store: 'cache', revocation: { consistency: 'cached' } },
    'revocation.consistency',
    "'cached' needs a change log, which store: 'cache' cannot keep: leave it unset ('strict')",
  ],
  [{ jwt: { secret: S }, revocation: 5 }, 'revocation', 'must be an object'],
  [{ jwt: { secret: S }, revocation: { x: 1 } }, 'revocation.x', 'unknown option'],
  [{ jwt: { secret: S }, revocation: { consistency: 'x' } }, 'revocation.consistency', "must be 'cached' or 'strict'"],
  [{ jwt: { secret: S }, revocation: { syncIntervalMs: 0 } }, 'revocation.syncIntervalMs', 'must be a positive integer'],
  [
    { jwt: { secret: S }, revocation: { syncIntervalMs: 5000, channelSyncIntervalMs: 1000 } },
    'revocation.channelSyncIntervalMs',
    'must be at least revocation.syncIntervalMs',
  ],
  [
    { jwt: { secret: S }, revocation: { channel: 'kafka' } },
    'revocation.channel',
    "must be 'auto', 'none', 'postgres', { type: 'postgres' | 'redis', ... } or a RevocationChannel",
  ],
  [
    { jwt: { secret: S }, revocation: { channel: { type: 'redis', channel: 'Bad-Name' } } },
    'revocation.channel',
    'channel names are lower-case letters, digits and _ (at most 63)',
  ],
  [{ jwt: { secret: S }, revocation: { storeTimeoutMs: 0 } }, 'revocation.storeTimeoutMs', 'must be a positive integer'],
  [{ jwt: { secret: S }, stores: 5 }, 'stores', 'must be an object'],
  [{ jwt: { secret: S }, stores: { x: 1 } }, 'stores.x', 'unknown option'],
  [{ jwt: { secret: S }, stores: { cutoffs: {} } }, 'stores.cutoffs', 'must implement set, get, since, purgeOlderThan'],
  [{ jwt: { secret: S }, stores: { apiKeys: 1 } }, 'stores.apiKeys', 'must implement insert, findByPrefix, list, revoke, touch'],
  [{ jwt: { secret: S }, apiKeys: 5 }, 'apiKeys', 'must be an object'],
  [{ jwt: { secret: S }, apiKeys: {} }, 'apiKeys.enabled', 'must be a boolean'],
  [{ jwt: { secret: S }, apiKeys: { enabled: 'yes' } }, 'apiKeys.enabled', 'must be a boolean'],
  [{ jwt: { secret: S }, apiKeys: { enabled: true, x: 1 } }, 'apiKeys.x', 'unknown option'],
  [{ jwt: { secret: S }, apiKeys: { enabled: true, pepper: 'short' } }, 'apiKeys.pepper', 'must be a string or Buffer of at least 32 bytes'],
  [{ jwt: { secret: S }, apiKeys: { enabled: true, header: '' } }, 'apiKeys.header', 'must be a non-empty string'],
  [{ jwt: { secret: S }, apiKeys: { enabled: true, keys: 5 } }, 'apiKeys.keys', 'must be an array of { name, key | sha256, permissions, userId? }'],
  [
    { jwt: { secret: S }, apiKeys: { enabled: false, keys: [{ name: 'a', key: S, permissions: [] }] } },
    'apiKeys.keys',
    'has keys but apiKeys.enabled is false: set it to true',
  ],
  [{ jwt: { secret: S }, apiKeys: { enabled: true, keys: [5] } }, 'apiKeys.keys[0]', 'must be an object'],
  [{ jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', key: S, permissions: [], x: 1 }] } }, 'apiKeys.keys[0].x', 'unknown option'],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: '', key: S, permissions: [] }] } },
    'apiKeys.keys[0].name',
    'must be a non-empty string of at most 150 characters',
  ],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', permissions: [] }] } },
    'apiKeys.keys[0]',
    'give exactly one of key (in clear) and sha256',
  ],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', key: 'short', permissions: [] }] } },
    'apiKeys.keys[0].key',
    'must be a string of at least 32 characters (a random one)',
  ],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', key: ' xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', permissions: [] }] } },
    'apiKeys.keys[0].key',
    'has leading or trailing whitespace, which a header cannot carry',
  ],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', sha256: 'zz', permissions: [] }] } },
    'apiKeys.keys[0].sha256',
    'must be the SHA-256 of the key in hex (64 characters)',
  ],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', key: S, permissions: [''] }] } },
    'apiKeys.keys[0].permissions',
    'must be an array of non-empty strings',
  ],
  [
    { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', key: S, permissions: [], userId: '' }] } },
    'apiKeys.keys[0].userId',
    'must be a non-empty string',
  ],
  [
    {
      jwt: { secret: S },
      apiKeys: {
        enabled: true,
        keys: [
          { name: 'a', key: S, permissions: [] },
          { name: 'a', key: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxy', permissions: [] },
        ],
      },
    },
    'apiKeys.keys[1].name',
    'is the name of apiKeys.keys[0] too: names must be unique',
  ],
  [
    {
      jwt: { secret: S },
      apiKeys: {
        enabled: true,
        keys: [
          { name: 'a', key: S, permissions: [] },
          { name: 'b', key: S, permissions: [] },
        ],
      },
    },
    'apiKeys.keys[1]',
    'is the same key as apiKeys.keys[0]: each key must be different',
  ],
  [{ jwt: { secret: S }, users: 5 }, 'users', 'must be a UserProvider class or instance (findByUsername, findById)'],
  [{ jwt: { secret: S }, users: {} }, 'users', 'must be a UserProvider class or instance (findByUsername, findById)'],
  [{ jwt: { secret: S }, passwordHasher: {} }, 'passwordHasher', 'must implement PasswordHasher (hash, verify)'],
  [{ jwt: { secret: S }, clock: {} }, 'clock', 'must be an AuthClock ({ now(): number })'],
  [{ jwt: { secret: S }, audit: 1 }, 'audit', 'must be an AuditSink (emit)'],
  [{ jwt: { secret: S }, publicRoutes: 1 }, 'publicRoutes', 'must be an object'],
  [{ jwt: { secret: S }, publicRoutes: { x: 1 } }, 'publicRoutes.x', 'unknown option'],
  [{ jwt: { secret: S }, publicRoutes: { invalidToken: 'x' } }, 'publicRoutes.invalidToken', "must be 'ignore' or 'reject'"],
  [
    { jwt: { secret: S }, globalGuard: false },
    'globalGuard',
    'shapes the module itself: give it to forRootAsync() beside useFactory, not in the options the factory returns',
  ],
  [
    { jwt: { secret: S }, requestContext: true },
    'requestContext',
    'shapes the module itself: give it to forRootAsync() beside useFactory, not in the options the factory returns',
  ],
  [{ jwt: { secret: S }, cookies: 5 }, 'cookies', 'must be an object'],
  [{ jwt: { secret: S }, cookies: {} }, 'cookies.enabled', 'must be a boolean'],
  [{ jwt: { secret: S }, cookies: { enabled: true, x: 1 } }, 'cookies.x', 'unknown option'],
  [{ jwt: { secret: S }, cookies: { enabled: true, accessToken: 5 } }, 'cookies.accessToken', 'must be an object'],
  [{ jwt: { secret: S }, cookies: { enabled: true, accessToken: { x: 1 } } }, 'cookies.accessToken.x', 'unknown option'],
  [
    { jwt: { secret: S }, cookies: { enabled: true, accessToken: { name: 'a b' } } },
    'cookies.accessToken.name',
    'must be a cookie name (RFC 6265 token characters)',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, refreshToken: { path: 'x' } } },
    'cookies.refreshToken.path',
    'must be a path that starts with "/"',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, refreshToken: { path: '/' } } },
    'cookies.refreshToken.path',
    'must be the refresh route, not "/": the refresh token would travel with every request',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, domain: 'http://x.com' } },
    'cookies.domain',
    'must be a host name such as "example.com" (no scheme, port or path)',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, domain: 'foo' } },
    'cookies.domain',
    'must be a host name such as "example.com" (no scheme, port or path)',
  ],
  [{ jwt: { secret: S }, cookies: { enabled: true, secure: 'yes' } }, 'cookies.secure', 'must be a boolean'],
  [
    { jwt: { secret: S }, cookies: { enabled: true, sameSite: 'none' } },
    'cookies.sameSite',
    "must be 'lax' or 'strict' ('none' would send the session with every cross-site request: use bearer tokens for a cross-site client)",
  ],
  [{ jwt: { secret: S }, cookies: { enabled: true, tokensInBody: 'x' } }, 'cookies.tokensInBody', "must be 'auto', 'always' or 'never'"],
  [{ jwt: { secret: S }, cookies: { enabled: true, csrf: 5 } }, 'cookies.csrf', 'must be an object'],
  [{ jwt: { secret: S }, cookies: { enabled: true, csrf: { header: 'a b' } } }, 'cookies.csrf.header', 'must be a header name'],
  [{ jwt: { secret: S }, cookies: { enabled: true, csrf: { header: 'Cookie' } } }, 'cookies.csrf.header', 'cannot be "cookie"'],
  [{ jwt: { secret: S }, cookies: { enabled: true, csrf: { trustedOrigins: 'x' } } }, 'cookies.csrf.trustedOrigins', 'must be an array of origins'],
  [
    { jwt: { secret: S }, cookies: { enabled: true, csrf: { trustedOrigins: ['https://a.com', 'https://b.com/x'] } } },
    'cookies.csrf.trustedOrigins',
    '"https://b.com/x" is not an origin such as "https://app.example.com" (no path, no wildcard)',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, csrf: { trustedOrigins: [5] } } },
    'cookies.csrf.trustedOrigins',
    '5 is not an origin such as "https://app.example.com" (no path, no wildcard)',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, csrf: { secret: 'short' } } },
    'cookies.csrf.secret',
    'must be a string or Buffer of at least 32 bytes',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, accessToken: { name: '__Host-x' }, domain: 'a.com' } },
    'cookies.accessToken.name',
    'a __Host- cookie cannot carry a Domain: drop cookies.domain or use __Secure-',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, refreshToken: { name: '__Host-r' } } },
    'cookies.refreshToken.name',
    'a __Host- cookie must have Path=/, and the refresh cookie is sent only to its route: use __Secure-',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, secure: false, accessToken: { name: '__Secure-a' } } },
    'cookies.accessToken.name',
    'a __Secure- cookie must be Secure: set cookies.secure to true or rename it',
  ],
  [
    { jwt: { secret: S }, cookies: { enabled: true, accessToken: { name: 'a' }, refreshToken: { name: 'a' } } },
    'cookies',
    'the access, refresh and CSRF cookies need three different names',
  ],
  [
    { jwt: { publicKey: 'x' }, cookies: { enabled: true } },
    'cookies.csrf.secret',
    'is required when the JWT options hold no secret or private key to derive it from',
  ],
  [{ jwt: { secret: S }, loginThrottle: 5 }, 'loginThrottle', 'must be an object'],
  [{ jwt: { secret: S }, loginThrottle: true }, 'loginThrottle', 'must be an object'],
  [{ jwt: { secret: S }, loginThrottle: { nope: 1 } }, 'loginThrottle.nope', 'unknown option'],
  [{ jwt: { secret: S }, loginThrottle: { perIp: 5 } }, 'loginThrottle.perIp', 'must be { limit, windowSeconds } or false'],
  [
    { jwt: { secret: S }, loginThrottle: { perIp: { limit: 5, window: 10 } } },
    'loginThrottle.perIp.window',
    'unknown option (did you mean "windowSeconds"?)',
  ],
  [{ jwt: { secret: S }, loginThrottle: { perIp: { limit: 0 } } }, 'loginThrottle.perIp.limit', 'must be a positive integer'],
  [
    { jwt: { secret: S }, loginThrottle: { perIp: { windowSeconds: 86401 } } },
    'loginThrottle.perIp.windowSeconds',
    'must be a positive integer of at most 86400',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { store: 'mongo' } },
    'loginThrottle.store',
    "must be 'memory', 'typeorm', 'redis' or a ThrottleStore (hit, release, reset)",
  ],
  [
    { jwt: { secret: S }, loginThrottle: { store: 'typeorm' } },
    'loginThrottle.store',
    "'typeorm' uses the DataSource of the `store` option: set store: 'typeorm' too",
  ],
  [{ jwt: { secret: S }, loginThrottle: { store: 'redis' } }, 'loginThrottle.redis', "store 'redis' needs redis: { url } or { client }"],
  [{ jwt: { secret: S }, loginThrottle: { redis: 5 } }, 'loginThrottle.redis', 'must be { url } or { client }'],
  [{ jwt: { secret: S }, loginThrottle: { redis: { x: 1 } } }, 'loginThrottle.redis.x', 'unknown option'],
  [{ jwt: { secret: S }, loginThrottle: { redis: { url: 'http://x' } } }, 'loginThrottle.redis.url', 'must be a redis:// or rediss:// URL'],
  [{ jwt: { secret: S }, loginThrottle: { redis: { client: {} } } }, 'loginThrottle.redis.client', 'must be an ioredis client'],
  [{ jwt: { secret: S }, loginThrottle: { redis: {} } }, 'loginThrottle.redis', 'needs exactly one of url and client'],
  [
    { jwt: { secret: S }, loginThrottle: { redis: { url: 'redis://x', keyPrefix: '' } } },
    'loginThrottle.redis.keyPrefix',
    'must be a non-empty string',
  ],
  [{ jwt: { secret: S }, loginThrottle: { fingerprintKey: 'short' } }, 'loginThrottle.fingerprintKey', 'must be at least 32 bytes'],
  [{ jwt: { secret: S }, loginThrottle: { fingerprintKey: 5 } }, 'loginThrottle.fingerprintKey', 'must be a string or a Buffer'],
  [{ jwt: { secret: S }, loginThrottle: { storeTimeoutMs: 60001 } }, 'loginThrottle.storeTimeoutMs', 'must be a positive integer of at most 60000'],
  [
    { jwt: { secret: S }, loginThrottle: { passwordChecks: 5 } },
    'loginThrottle.passwordChecks',
    'must be { concurrency?, maxQueued?, retryAfterSeconds? }',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { passwordChecks: { queue: 1 } } },
    'loginThrottle.passwordChecks.queue',
    'unknown option (did you mean "maxQueued"?)',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { passwordChecks: { concurrency: 0 } } },
    'loginThrottle.passwordChecks.concurrency',
    'must be a positive integer',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { passwordChecks: { maxQueued: -1 } } },
    'loginThrottle.passwordChecks.maxQueued',
    'must be a positive integer',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { passwordChecks: { retryAfterSeconds: 3601 } } },
    'loginThrottle.passwordChecks.retryAfterSeconds',
    'must be a positive integer of at most 3600',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { pacingMs: -1 } },
    'loginThrottle.pacingMs',
    'must be false or an integer number of milliseconds from 0 to 10000',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { pacingMs: true } },
    'loginThrottle.pacingMs',
    'must be false or an integer number of milliseconds from 0 to 10000',
  ],
  [{ jwt: { secret: S }, loginThrottle: { enabled: 'x' } }, 'loginThrottle.enabled', 'must be a boolean'],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: 5 } },
    'loginThrottle.deviceCookie',
    'must be { name?, maxAgeDays?, perDevice?, secure? }, true or false',
  ],
  [{ jwt: { secret: S }, loginThrottle: { deviceCookie: { x: 1 } } }, 'loginThrottle.deviceCookie.x', 'unknown option'],
  [{ jwt: { secret: S }, loginThrottle: { deviceCookie: { secure: 1 } } }, 'loginThrottle.deviceCookie.secure', 'must be a boolean'],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: { name: 'a b' } } },
    'loginThrottle.deviceCookie.name',
    "must be a cookie name (letters, digits, -_.!#$%&'*+^`|~)",
  ],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: { secure: false, name: '__Host-x' } } },
    'loginThrottle.deviceCookie.name',
    'a __Host- or __Secure- cookie needs secure: true',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: { perDevice: false } } },
    'loginThrottle.deviceCookie.perDevice',
    'must be { limit, windowSeconds }: a known device is still counted',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: { perDevice: 5 } } },
    'loginThrottle.deviceCookie.perDevice',
    'must be { limit, windowSeconds } or false',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: { perDevice: { limit: 0 } } } },
    'loginThrottle.deviceCookie.perDevice.limit',
    'must be a positive integer',
  ],
  [
    { jwt: { secret: S }, loginThrottle: { deviceCookie: { maxAgeDays: 4000 } } },
    'loginThrottle.deviceCookie.maxAgeDays',
    'must be a positive integer of at most 3650',
  ],
  [{ jwt: { secret: S }, loginThrottle: { clientAddress: 5 } }, 'loginThrottle.clientAddress', 'must be a function (call) => string | undefined'],
  [
    { trustedIssuers: [] },
    'jwt',
    'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given',
  ],
  [{ store: 'memory' }, 'jwt', 'is required (an object with at least a key: jwt.secret, jwt.privateKey or jwt.keys), unless trustedIssuers is given'],
];

describe('every option refused at boot names its path and says what is wrong', () => {
  test.each(TABLE)('%j → %s', (raw, option, problem) => {
    expect(refusal(() => resolveAuthOptions(raw as never))).toEqual({ option, problem });
  });
});

describe('"did you mean" for a misspelt key, at every level', () => {
  test.each<[unknown, string, string]>([
    [{ jwt: { secret: S }, jwtt: {} }, 'jwtt', 'unknown option (did you mean "jwt"?)'],
    [{ jwt: { secret: S, accesTokenTtl: 60 } }, 'jwt.accesTokenTtl', 'unknown option (did you mean "accessTokenTtl"?)'],
    [{ jwt: { secret: S, algorithm: 'HS256' } }, 'jwt.algorithm', 'unknown option (did you mean "algorithms"?)'],
    [{ jwt: { secret: S, AccessTokenTTL: 60 } }, 'jwt.AccessTokenTTL', 'unknown option (did you mean "accessTokenTtl"?)'],
    [{ jwt: { secret: S }, loginThrottle: { perIP: false } }, 'loginThrottle.perIP', 'unknown option (did you mean "perIp"?)'],
    [
      { jwt: { secret: S }, loginThrottle: { perIp: { limit: 5, windowSecond: 10 } } },
      'loginThrottle.perIp.windowSecond',
      'unknown option (did you mean "windowSeconds"?)',
    ],
    [
      { jwt: { secret: S }, cookies: { enabled: true, csrf: { trustedOrigin: [] } } },
      'cookies.csrf.trustedOrigin',
      'unknown option (did you mean "trustedOrigins"?)',
    ],
    [{ jwt: { secret: S }, revocation: { syncIntervalMS: 5 } }, 'revocation.syncIntervalMS', 'unknown option (did you mean "syncIntervalMs"?)'],
    [{ jwt: { secret: S }, store: { type: 'typeorm', datasource: 'x' } }, 'store.datasource', 'unknown option (did you mean "dataSource"?)'],
    [
      { jwt: { secret: S }, apiKeys: { enabled: true, keys: [{ name: 'a', key: S, permission: [] }] } },
      'apiKeys.keys[0].permission',
      'unknown option (did you mean "permissions"?)',
    ],
    // Nothing close: no guess.
    [{ jwt: { secret: S }, sessionStore: 'x' }, 'sessionStore', 'unknown option'],
    [{ jwt: { secret: S, foo: 1 } }, 'jwt.foo', 'unknown option'],
  ])('%j → %s', (raw, option, problem) => {
    expect(refusal(() => resolveAuthOptions(raw as never))).toEqual({ option, problem });
  });

  test('the suggestion is the closest known key, case aside, and only when close', () => {
    expect(unknownOption('secrett', ['secret', 'keys'])).toBe('unknown option (did you mean "secret"?)');
    expect(unknownOption('KEYS', ['secret', 'keys'])).toBe('unknown option (did you mean "keys"?)');
    expect(unknownOption('ab', ['cd'])).toBe('unknown option');
    expect(unknownOption('totallyDifferent', ['jwt', 'store'])).toBe('unknown option');
  });

  test('the extras given by a factory are named as such, not as unknown', () => {
    expect(refusal(() => resolveAuthOptions({ jwt: { secret: S }, isGlobal: true } as never))?.problem).toMatch(/beside useFactory/);
    expect(refusal(() => resolveExtras({ requestContext: 'always' as never }))).toEqual({
      option: 'requestContext',
      problem: "must be true, false or 'auto'",
    });
    expect(refusal(() => resolveExtras({ globalGuard: 1 as never }))).toEqual({ option: 'globalGuard', problem: 'must be a boolean' });
  });
});

describe('one key derivation, a label per use', () => {
  test('HKDF-SHA256 over the signing key, with the use in the info', () => {
    const material = Buffer.from(S);
    const expected = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), '@democrai/nest-auth csrf v1', 32));
    expect(deriveKey(material, 'csrf').equals(expected)).toBe(true);
  });

  test('each use gets its own key from one signing key, and none is the signing key', () => {
    const material = Buffer.from(S);
    const keys = (Object.keys(DERIVED_KEY_LABELS) as Array<keyof typeof DERIVED_KEY_LABELS>).map((use) => deriveKey(material, use).toString('hex'));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(Object.values(DERIVED_KEY_LABELS)).size).toBe(keys.length);
    expect(keys).not.toContain(material.toString('hex'));
  });

  test('the CSRF key is the one the cookie options derived before (pages open across the upgrade keep their token)', () => {
    const cookies = resolveCookieOptions({ enabled: true }, { secret: S });
    const before = Buffer.from(hkdfSync('sha256', Buffer.from(S), Buffer.alloc(0), '@democrai/nest-auth csrf v1', 32));
    expect(cookies.csrfKeys).toHaveLength(1);
    expect(cookies.csrfKeys[0]!.equals(before)).toBe(true);
  });

  test('the throttle fingerprint key comes from the same derivation, under its own label, and differs from the CSRF key', () => {
    const throttle = resolveLoginThrottleOptions(undefined, { jwt: { secret: S } });
    expect(throttle.fingerprintKey.equals(deriveKey(signingKeyMaterial({ secret: S })!, 'loginThrottleFingerprint'))).toBe(true);
    expect(throttle.fingerprintKey.equals(deriveKey(Buffer.from(S), 'csrf'))).toBe(false);
  });

  test('a key ring derives from its first (signing) key; a verify-only key gives nothing to derive from', () => {
    const ring = resolveLoginThrottleOptions(undefined, { jwt: { keys: [{ secret: S }, { secret: 'y'.repeat(32) }] } });
    expect(ring.fingerprintKey.equals(deriveKey(Buffer.from(S), 'loginThrottleFingerprint'))).toBe(true);
    const none = resolveLoginThrottleOptions(undefined, { jwt: { publicKey: 'x' } as never });
    expect(none.fingerprintKeyIsRandom).toBe(true);
  });
});

describe('the cache chosen where the revocation store is chosen: given in one place', () => {
  test.each<[unknown, string, string]>([
    [
      { jwt: { secret: S }, revocation: { store: 'cache' }, stores: { revocations: 'cache' } },
      'revocation.store',
      'and stores.revocations both given: keep one',
    ],
    [
      { jwt: { secret: S }, store: { type: 'cache', keyPrefix: 'a:' }, stores: { revocations: { type: 'cache', keyPrefix: 'b:' } } },
      'stores.revocations.keyPrefix',
      'differs from store.keyPrefix: give the prefix in one place',
    ],
    [
      { jwt: { secret: S }, stores: { revocations: { type: 'cache', prefix: 'b:' } } },
      'stores.revocations.prefix',
      'unknown option (did you mean "keyPrefix"?)',
    ],
    [
      { jwt: { secret: S }, stores: { revocations: 'cache' }, revocation: { consistency: 'cached' } },
      'revocation.consistency',
      "'cached' needs a change log, which stores.revocations: 'cache' cannot keep: leave it unset ('strict')",
    ],
  ])('%j → %s', (raw, option, problem) => {
    expect(refusal(() => resolveAuthOptions(raw as never))).toEqual({ option, problem });
  });

  test('resolved into the cache store, the sessions staying where store keeps them', () => {
    expect(resolveAuthOptions({ jwt: { secret: S }, revocation: { store: 'cache' } }).store).toEqual({
      type: 'cache',
      keyPrefix: 'nest-auth:',
      sessions: 'memory',
      dataSource: 'default',
    });
    const typeorm = resolveAuthOptions({
      jwt: { secret: S },
      store: { type: 'typeorm', dataSource: 'auth' },
      stores: { revocations: { type: 'cache', keyPrefix: 'p:' } },
    });
    expect(typeorm.store).toEqual({ type: 'cache', keyPrefix: 'p:', sessions: 'typeorm', dataSource: 'auth' });
    expect(typeorm.revocation.consistency).toBe('strict');
    expect(typeorm.stores.revocations).toBeUndefined();
    // The throttle's counters stay on the module's TypeORM DataSource.
    expect(typeorm.loginThrottle).toMatchObject({ store: 'typeorm', dataSource: 'auth' });
  });
});
