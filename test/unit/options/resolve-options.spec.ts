/** The option resolver (src/options): what it accepts, what it refuses and with which message. */
import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { resolveAuthOptions, resolveExtras } from '../../../src/options/resolve-options.js';

const SECRET = 'unit-secret-that-is-at-least-32-bytes-long';

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
