import { describe, expect, test } from '@jest/globals';
import { resolveCookieOptions } from '../../src/cookies/cookie.options.js';

const JWT = { secret: 'test-secret-that-is-at-least-32-bytes-long!' };
const bad = (raw: unknown, option: string) => expect(() => resolveCookieOptions(raw, JWT)).toThrow(`"${option}"`);

describe('resolveCookieOptions', () => {
  test('defaults: __Host- names, Secure, Lax, refresh cookie on /auth/refresh only', () => {
    const o = resolveCookieOptions({ enabled: true }, JWT);
    expect(o).toMatchObject({
      access: { name: '__Host-access', path: '/' },
      refresh: { name: '__Secure-refresh', path: '/auth/refresh' },
      csrfCookie: { name: '__Host-csrf', path: '/' },
      secure: true,
      sameSite: 'lax',
      tokensInBody: 'auto',
      csrfHeader: 'x-csrf-token',
    });
    expect(o.csrfKeys).toHaveLength(1);
  });

  test('prefixes follow the flags: a domain gives __Secure-, secure: false gives none', () => {
    expect(resolveCookieOptions({ enabled: true, domain: 'example.com' }, JWT).access.name).toBe('__Secure-access');
    expect(resolveCookieOptions({ enabled: true, secure: false }, JWT).access.name).toBe('access');
  });

  test('refuses what a browser would refuse or what would weaken the session', () => {
    bad({ enabled: true, accessToken: { name: '__Host-a' }, domain: 'example.com' }, 'cookies.accessToken.name');
    bad({ enabled: true, accessToken: { name: '__host-a' }, secure: false }, 'cookies.accessToken.name');
    bad({ enabled: true, refreshToken: { name: '__Host-r' } }, 'cookies.refreshToken.name');
    bad({ enabled: true, secure: false, csrf: { cookie: '__Secure-c' } }, 'cookies.csrf.cookie');
    bad({ enabled: true, refreshToken: { path: '/' } }, 'cookies.refreshToken.path');
    bad({ enabled: true, refreshToken: { path: 'auth/refresh' } }, 'cookies.refreshToken.path');
    bad({ enabled: true, sameSite: 'none' }, 'cookies.sameSite');
    bad({ enabled: true, accessToken: { name: 'a b' } }, 'cookies.accessToken.name');
    bad({ enabled: true, accessToken: { name: 'x' }, refreshToken: { name: 'x' } }, 'cookies');
    bad({ enabled: true, domain: 'https://example.com' }, 'cookies.domain');
    bad({ enabled: true, csrf: { trustedOrigins: ['https://a.example.com/path'] } }, 'cookies.csrf.trustedOrigins');
    bad({ enabled: true, csrf: { trustedOrigins: ['*'] } }, 'cookies.csrf.trustedOrigins');
    bad({ enabled: true, csrf: { header: 'cookie' } }, 'cookies.csrf.header');
    bad({ enabled: true, csrf: { secret: 'short' } }, 'cookies.csrf.secret');
    bad({ enabled: true, tokensInBody: true }, 'cookies.tokensInBody');
    bad({ enabled: 'yes' }, 'cookies.enabled');
    bad({ enabled: true, extra: 1 }, 'cookies.extra');
    expect(() => resolveCookieOptions({ enabled: true }, { keys: [] })).toThrow('"cookies.csrf.secret"');
  });

  test('trusted origins are normalized; the CSRF key follows the key ring', () => {
    const o = resolveCookieOptions({ enabled: true, csrf: { trustedOrigins: ['HTTPS://App.Example.com:443'] } }, JWT);
    expect([...o.trustedOrigins]).toEqual(['https://app.example.com']);
    const ring = resolveCookieOptions({ enabled: true }, { keys: [{ secret: 'a'.repeat(32) }, { secret: 'b'.repeat(32) }] });
    expect(ring.csrfKeys).toHaveLength(2);
    expect(ring.csrfKeys[0].equals(ring.csrfKeys[1])).toBe(false);
  });
});
