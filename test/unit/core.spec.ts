/**
 * Unit specs of the core's pieces, so a failure points at the unit and not at
 * a status code: the option resolver, the credential parsers, the strict JSON
 * parser, the route policy and its check, the password-check queue.
 */
import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { isAuthorized } from '../../src/authorization/authorize.js';
import { computeRoutePolicy, contradictionOf } from '../../src/authorization/route-policy.js';
import type { AuthContextData } from '../../src/context/auth-context.js';
import { bearerTokenOf, rawTokenOf } from '../../src/credentials/bearer.js';
import { apiKeyHeaderSource, readCredential, tokenHeaderSource } from '../../src/credentials/credential.js';
import { IS_PUBLIC } from '../../src/decorators/metadata-keys.js';
import { AuthError, PermissionRequired, Public, StaffOnly, SuperuserOnly } from '../../src/index.js';
import { ConcurrencyLimit } from '../../src/login/concurrency-limit.js';
import { resolveAuthOptions, resolveExtras } from '../../src/options/resolve-options.js';
import { parseJsonObject } from '../../src/tokens/strict-json.js';
import type { Carrier } from '../../src/call/carrier.js';

const SECRET = 'unit-secret-that-is-at-least-32-bytes-long';
const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'passed';
  } catch (err) {
    return err instanceof AuthError ? `${err.code}:${err.reason}` : (err as Error).message;
  }
};

describe('resolveAuthOptions', () => {
  test('fills the documented defaults', () => {
    const o = resolveAuthOptions({ jwt: { secret: SECRET } });
    expect(o.jwt).toMatchObject({
      algorithms: ['HS256'],
      accessTokenTtl: 900,
      refreshTokenTtl: 1_209_600,
      clockTolerance: 0,
      header: 'authorization',
    });
    expect(o.revocation).toEqual({ syncIntervalMs: 1000, consistency: 'cached', storeTimeoutMs: 2000, channelSyncIntervalMs: 10_000 });
    expect(o.store).toEqual({ type: 'memory' });
    expect(o.publicRoutes).toEqual({ invalidToken: 'ignore' });
    expect(o.loginThrottle.enabled).toBe(true);
  });

  test.each<[string, unknown, RegExp]>([
    ['an unknown option', { jwt: { secret: SECRET }, jwtt: {} }, /"jwtt": unknown option/],
    ['an extra returned by a factory', { jwt: { secret: SECRET }, globalGuard: false }, /"globalGuard".*beside useFactory/],
    ['an empty secret', { jwt: { secret: '' } }, /"jwt\.secret": is empty/],
    ['a zero timeout', { jwt: { secret: SECRET }, revocation: { storeTimeoutMs: 0 } }, /"revocation\.storeTimeoutMs"/],
    [
      'a safety-net poll shorter than the poll',
      { jwt: { secret: SECRET }, revocation: { syncIntervalMs: 5000, channelSyncIntervalMs: 1000 } },
      /channelSyncIntervalMs/,
    ],
    ['a bad channel', { jwt: { secret: SECRET }, revocation: { channel: 'kafka' } }, /"revocation\.channel"/],
    ['a custom store missing methods', { jwt: { secret: SECRET }, stores: { sessions: { create() {} } } }, /"stores\.sessions": must implement/],
    [
      'two revocation stores',
      {
        jwt: { secret: SECRET },
        stores: { revocations: { revoke() {}, isRevoked() {}, purgeExpired() {}, revokedSince() {} } },
        revocation: { store: { revoke() {}, isRevoked() {}, purgeExpired() {}, revokedSince() {} } },
      },
      /keep one/,
    ],
    ['a clock without now()', { jwt: { secret: SECRET }, clock: {} }, /"clock"/],
  ])('refuses %s, naming the option', (_name, raw, message) => {
    expect(() => resolveAuthOptions(raw as never)).toThrow(message);
  });

  test('resolveExtras: defaults, and a bad jwksRoute', () => {
    expect(resolveExtras({})).toEqual({ globalGuard: true, isGlobal: true, requestContext: 'auto', jwksPath: undefined });
    expect(resolveExtras({ jwksRoute: true }).jwksPath).toBe('.well-known/jwks.json');
    expect(() => resolveExtras({ jwksRoute: '' })).toThrow(/"jwksRoute"/);
  });
});

describe('credential parsers', () => {
  test.each<[unknown, string]>([
    [undefined, 'none'],
    ['', 'none'],
    ['Basic abc', 'none'],
    ['Bearerx abc', 'none'],
    ['Bearer abc', 'abc'],
    ['bearer    abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer', 'token_invalid:bearer_without_token'],
    ['Bearer    ', 'token_invalid:bearer_without_token'],
    ['Bearer a b', 'token_invalid:more_than_one_token'],
    ['Bearer\tabc', 'token_invalid:malformed_authorization_header'],
    [['Bearer a', 'Bearer b'], 'token_invalid:malformed_authorization_header'],
  ])('bearerTokenOf(%j) → %s', (value, expected) => {
    let got: string;
    try {
      got = bearerTokenOf(value) ?? 'none';
    } catch (err) {
      got = `${(err as AuthError).code}:${(err as AuthError).reason}`;
    }
    expect(got).toBe(expected);
  });

  test('rawTokenOf refuses whitespace and non-strings', () => {
    expect(rawTokenOf('abc')).toBe('abc');
    expect(codeOf(() => rawTokenOf('a b'))).toBe('token_invalid:malformed_token_header');
    expect(codeOf(() => rawTokenOf(['a']))).toBe('token_invalid:malformed_token_header');
  });

  test('readCredential: at most one credential, never a guess', () => {
    const sources = [tokenHeaderSource('authorization'), apiKeyHeaderSource('x-api-key')];
    const carrier = (headers: Record<string, unknown>): Carrier => ({ type: 'http', target: {}, headers, response: undefined });
    expect(readCredential(sources, carrier({}))).toBeUndefined();
    expect(readCredential(sources, carrier({ authorization: 'Bearer t' }))).toEqual({ kind: 'bearer', token: 't' });
    expect(readCredential(sources, carrier({ 'x-api-key': 'k' }))).toEqual({ kind: 'api_key', key: 'k' });
    expect(codeOf(() => readCredential(sources, carrier({ authorization: 'Bearer t', 'x-api-key': 'k' })))).toBe(
      'token_invalid:ambiguous_credentials',
    );
    expect(codeOf(() => readCredential(sources, carrier({ 'x-api-key': ['a', 'b'] })))).toBe('api_key_invalid:malformed_api_key_header');
  });
});

describe('the strict JSON parser', () => {
  const parse = (text: string | Uint8Array) => codeOf(() => parseJsonObject(typeof text === 'string' ? Buffer.from(text) : text));
  test.each<[string, string]>([
    ['{"a":1}', 'passed'],
    ['{"a":1,"a":2}', 'token_invalid'],
    ['[]', 'token_invalid'],
    ['"x"', 'token_invalid'],
    ['{"a":', 'token_invalid'],
    ['{"a":' + '['.repeat(100) + ']'.repeat(100) + '}', 'token_invalid'],
  ])('%s → %s', (text, expected) => {
    expect(parse(text).split(':')[0]).toBe(expected);
  });
  test('invalid UTF-8 is refused', () => {
    expect(parse(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])).split(':')[0]).toBe('token_invalid');
  });
});

describe('the route policy and its check', () => {
  @Public()
  class OpenClass {
    plain() {}
    @SuperuserOnly()
    su() {}
    @PermissionRequired('a', 'b')
    both() {}
  }
  @PermissionRequired(['a', 'b'], { mode: 'any' })
  class PermClass {
    @Public()
    open() {}
    inherits() {}
    @StaffOnly()
    staff() {}
  }
  const auth = (over: Partial<AuthContextData> = {}): AuthContextData => ({
    userId: '1',
    isStaff: false,
    isSuperuser: false,
    permissions: [],
    backend: 'jwt',
    ...over,
  });

  test('precedence: a class-level @Public() opens only the methods with no authorization decorator', () => {
    expect(computeRoutePolicy(OpenClass.prototype.plain, OpenClass).isPublic).toBe(true);
    expect(computeRoutePolicy(OpenClass.prototype.su, OpenClass)).toMatchObject({ isPublic: false, superuserOnly: true, required: 'superuser' });
    expect(computeRoutePolicy(OpenClass.prototype.both, OpenClass)).toMatchObject({ isPublic: false, permissions: ['a', 'b'], required: 'all:a,b' });
    expect(computeRoutePolicy(PermClass.prototype.open, PermClass)).toMatchObject({ isPublic: true, permissions: undefined });
    expect(computeRoutePolicy(PermClass.prototype.inherits, PermClass)).toMatchObject({ anyPermission: true, permissions: ['a', 'b'] });
  });

  test('contradictions are found on a handler and on a class', () => {
    function handler() {}
    class Cls {}
    Reflect.defineMetadata(IS_PUBLIC, true, handler);
    Reflect.defineMetadata('nest-auth:staff-only', true, handler);
    expect(contradictionOf(handler, Cls)).toBe('Cls.handler');
    expect(contradictionOf(OpenClass.prototype.su, OpenClass)).toBeUndefined();
  });

  test('isAuthorized: all, any, staff, superuser', () => {
    const all = computeRoutePolicy(OpenClass.prototype.both, OpenClass);
    const any = computeRoutePolicy(PermClass.prototype.inherits, PermClass);
    const staff = computeRoutePolicy(PermClass.prototype.staff, PermClass);
    const su = computeRoutePolicy(OpenClass.prototype.su, OpenClass);
    expect(isAuthorized(all, auth({ permissions: ['a'] }))).toBe(false);
    expect(isAuthorized(all, auth({ permissions: ['a', 'b'] }))).toBe(true);
    expect(isAuthorized(any, auth({ permissions: ['b'] }))).toBe(true);
    expect(isAuthorized(any, auth({ permissions: ['c'] }))).toBe(false);
    expect(isAuthorized(staff, auth({ isStaff: true }))).toBe(false); // staff, but the class still needs a or b
    expect(isAuthorized(staff, auth({ isStaff: true, permissions: ['a'] }))).toBe(true);
    expect(isAuthorized(su, auth({ isStaff: true, permissions: ['a', 'b'] }))).toBe(false);
    expect(isAuthorized(su, auth({ isSuperuser: true }))).toBe(true);
    expect(isAuthorized(all, auth({ isSuperuser: true }))).toBe(true);
  });
});

describe('the password-check queue', () => {
  const deferred = () => {
    let resolve!: (v: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    return { promise, resolve };
  };

  test('runs at most `max` at once, queues `maxQueued`, refuses beyond with auth_busy', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueued: 1, retryAfterSeconds: 1 });
    const first = deferred();
    const started: number[] = [];
    const a = limit.run(() => (started.push(1), first.promise));
    const b = limit.run(async () => (started.push(2), true));
    await expect(limit.run(async () => true)).rejects.toMatchObject({ code: 'auth_busy', retryAfterSeconds: 1 });
    expect(started).toEqual([1]);
    first.resolve(true);
    await expect(a).resolves.toBe(true);
    await expect(b).resolves.toBe(true);
    expect(started).toEqual([1, 2]);
  });

  test('a waiter whose client has gone leaves the queue and never runs', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueued: 4 });
    const first = deferred();
    const a = limit.run(() => first.promise);
    const gone = new AbortController();
    let ran = false;
    const b = limit.run(async () => ((ran = true), true), { signal: gone.signal });
    gone.abort();
    await expect(b).rejects.toBeDefined();
    first.resolve(true);
    await a;
    expect(ran).toBe(false);
  });
});
