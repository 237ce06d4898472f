// Trusted issuers on a real app (Express and Fastify): a provider's access tokens authenticate on the same guard and
// decorators, mapped to a principal; the module's own tokens keep working beside them; local revocation applies.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuthService, type AuthModuleOptions } from '../../src/index.js';
import { TestClock } from '../../src/testing/index.js';
import { ADAPTERS, bootApp, initError, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { CapturingLogger } from '../support/logger.js';
import { AuthModule } from '../../src/index.js';
import { TrustedIssuers } from '../../src/issuers/trusted-issuers.js';
import { resolveAuthOptions } from '../../src/options/resolve-options.js';
import { JwksServer } from './support/jwks-server.js';

const get = (app: INestApplication, path: string, token?: string) => {
  const req = request(app.getHttpServer()).get(path);
  return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
};

describe.each(ADAPTERS)('trusted issuers on %s', (adapter) => {
  const clock = new TestClock();
  const provider = new JwksServer('/realms/test');
  let app: INestApplication;
  const now = () => Math.floor(clock.now() / 1000);

  beforeAll(async () => {
    await provider.start();
    provider.addKey('RS256');
    provider.addKey('ES256');
    app = await bootApp(
      {
        jwt: { secret: SECRET, issuer: 'https://own.test' },
        clock,
        trustedIssuers: [
          {
            issuer: provider.issuer,
            audience: ['api', 'other-api'],
            claims: {
              permissions: ['scope', 'realm_access.roles'],
              username: 'preferred_username',
              isStaff: (c) => Array.isArray(c.groups) && c.groups.includes('staff'),
              isSuperuser: 'admin',
            },
          },
        ],
      },
      { adapter, controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    await provider.close();
  });

  test('a provider token authenticates: request.auth names the issuer, backend jwt, userId = sub, no sessionId', async () => {
    const token = await provider.sign(
      provider.claims('api', { preferred_username: 'ada', scope: 'articles:read profile', realm_access: { roles: ['editor'] } }, now()),
    );
    const res = await get(app, '/context', token);
    expect(res.status).toBe(200);
    const auth = res.body.auth;
    expect(auth).toMatchObject({
      userId: 'user-1',
      username: 'ada',
      backend: 'jwt',
      issuer: provider.issuer,
      isStaff: false,
      isSuperuser: false,
      permissions: ['articles:read', 'profile', 'editor'],
    });
    expect(auth.sessionId).toBeUndefined();
    expect(auth.claims.iss).toBe(provider.issuer);
    // The cached path gives the same answer.
    expect((await get(app, '/context', token)).body.auth).toEqual(auth);
  });

  test('@PermissionRequired, @StaffOnly and @SuperuserOnly work on the mapped claims', async () => {
    const reader = await provider.sign(provider.claims('api', { scope: 'articles:read' }, now()));
    const nobody = await provider.sign(provider.claims('api', { scope: 'profile' }, now()));
    const staff = await provider.sign(provider.claims('api', { groups: ['staff'] }, now()), provider.served[1]);
    const root = await provider.sign(provider.claims('api', { admin: true }, now()));
    const notRoot = await provider.sign(provider.claims('api', { admin: 'true' }, now()));
    expect((await get(app, '/articles', reader)).status).toBe(200);
    const denied = await get(app, '/articles', nobody);
    expect({ status: denied.status, code: denied.body.code }).toEqual({ status: 403, code: 'permission_denied' });
    expect((await get(app, '/admin/report', staff)).status).toBe(200);
    expect((await get(app, '/admin/report', reader)).status).toBe(403);
    expect((await get(app, '/admin/stats', root)).status).toBe(200);
    // A path means the claim is exactly true.
    expect((await get(app, '/admin/stats', notRoot)).status).toBe(403);
  });

  test("the app's own tokens keep working beside the provider's, without an issuer", async () => {
    const own = await app.get(AuthService).createToken({ sub: '7', permissions: ['articles:read'] });
    const res = await get(app, '/context', own);
    expect(res.status).toBe(200);
    expect(res.body.auth.userId).toBe('7');
    expect(res.body.auth.issuer).toBeUndefined();
  });

  test.each<[string, string, (p: JwksServer, n: number) => Record<string, unknown>]>([
    ['an audience not configured', 'token_invalid', (p, n) => p.claims('someone-else', {}, n)],
    ['no audience', 'token_invalid', (p, n) => ({ ...p.claims('api', {}, n), aud: undefined })],
    ['an unknown issuer', 'token_invalid', (p, n) => p.claims('api', { iss: `${p.issuer}/other` }, n)],
    ['an issuer that differs by a trailing slash', 'token_invalid', (p, n) => p.claims('api', { iss: `${p.issuer}/` }, n)],
    ['expired', 'token_expired', (p, n) => p.claims('api', { iat: n - 600, exp: n - 1 }, n)],
    ['not valid yet', 'token_invalid', (p, n) => p.claims('api', { nbf: n + 120 }, n)],
    ['issued in the future', 'token_invalid', (p, n) => p.claims('api', { iat: n + 120, exp: n + 300 }, n)],
    ['no sub', 'token_invalid', (p, n) => ({ ...p.claims('api', {}, n), sub: undefined })],
    ['no exp', 'token_invalid', (p, n) => ({ ...p.claims('api', {}, n), exp: undefined })],
    ['a lifetime over a day', 'token_invalid', (p, n) => p.claims('api', { exp: n + 90_000 }, n)],
  ])('%s is 401 %s', async (_name, code, claims) => {
    const res = await get(app, '/private', await provider.sign(claims(provider, now())));
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code });
  });

  test.each<[string, Record<string, unknown>]>([
    ['typ JWT', { typ: 'JWT' }],
    ['no typ', { typ: undefined }],
    ['typ application/at+jwt', { typ: 'application/at+jwt' }],
  ])('the default token type takes %s', async (_name, header) => {
    expect((await get(app, '/private', await provider.sign(provider.claims('api', {}, now()), undefined, header))).status).toBe(200);
  });

  test.each([['dpop+jwt'], ['refresh+jwt'], ['logout+jwt'], ['id_token+jwt']])('typ %s is refused', async (typ) => {
    const res = await get(app, '/private', await provider.sign(provider.claims('api', {}, now()), undefined, { typ }));
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'token_invalid' });
  });

  test('a sender-constrained token (DPoP cnf.jkt, mTLS cnf.x5t#S256) sent as Bearer is 401 token_invalid', async () => {
    for (const cnf of [{ jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' }]) {
      const res = await get(app, '/private', await provider.sign(provider.claims('api', { cnf }, now())));
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'token_invalid' });
    }
  });

  test('local revocation: by jti, then every token of the subject issued before a cut-off', async () => {
    const auth = app.get(AuthService);
    const first = await provider.sign(provider.claims('api', { jti: 'revoke-me', sub: 'victim' }, now()));
    const second = await provider.sign(provider.claims('api', { sub: 'victim' }, now()));
    expect((await get(app, '/private', first)).status).toBe(200);
    await auth.revokeToken('revoke-me');
    const revoked = await get(app, '/private', first);
    expect({ status: revoked.status, code: revoked.body.code }).toEqual({ status: 401, code: 'token_revoked' });
    expect((await get(app, '/private', second)).status).toBe(200);
    await auth.revokeAllForUser('victim');
    expect((await get(app, '/private', second)).body.code).toBe('token_revoked');
    // A token the provider issues after the cut-off is let in.
    clock.advanceSeconds(2);
    const later = await provider.sign(provider.claims('api', { sub: 'victim' }, now()));
    expect((await get(app, '/private', later)).status).toBe(200);
  });

  test("revokeToken(token) takes the provider token itself (verified with its issuer's keys); one without jti says to cut off its subject", async () => {
    const auth = app.get(AuthService);
    const token = await provider.sign(provider.claims('api', { sub: 'by-token' }, now()));
    expect((await get(app, '/private', token)).status).toBe(200);
    await auth.revokeToken(token);
    expect((await get(app, '/private', token)).body.code).toBe('token_revoked');
    const claims = provider.claims('api', {}, now());
    delete claims.jti;
    await expect(auth.revokeToken(await provider.sign(claims))).rejects.toThrow(/no jti.*revokeAllForUser/);
    // A forged token is not "revoked": it is refused as what it is.
    await expect(auth.revokeToken(await provider.sign(provider.claims('api', { aud: 'x' }, now())))).rejects.toMatchObject({ status: 401 });
  });

  test('a token without jti is accepted (Auth0, Entra and Google send none) and the cut-off still reaches it', async () => {
    const claims = provider.claims('api', { sub: 'no-jti' }, now());
    delete claims.jti;
    const token = await provider.sign(claims);
    expect((await get(app, '/private', token)).status).toBe(200);
    await app.get(AuthService).revokeAllForUser('no-jti');
    expect((await get(app, '/private', token)).body.code).toBe('token_revoked');
  });
});

/** The key the module files a verified provider token under: the SHA-256 of the whole token, its 32 bytes as a latin1 string (src/tokens/token-digest.ts). */
const cacheKey = (token: string) => createHash('sha256').update(token).digest('binary');

describe('the cache of verified provider tokens', () => {
  test('stays within jwt.verifiedTokenCacheMb (oldest out first), and 0 turns it off', async () => {
    const provider = await new JwksServer().start();
    provider.addKey('ES256');
    const boot = (mb: number) =>
      bootApp(
        { jwt: { secret: SECRET, verifiedTokenCacheMb: mb }, trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] },
        { controllers: ALL_CONTROLLERS },
      );
    const small = await boot(0.01);
    const off = await boot(0);
    try {
      const held = (app: INestApplication) => app.get(TrustedIssuers) as unknown as { verified: Map<string, unknown>; verifiedBytes: number };
      const tokens = await Promise.all(Array.from({ length: 40 }, () => provider.sign(provider.claims('api'))));
      for (const token of tokens) {
        expect((await get(small, '/private', token)).status).toBe(200);
        expect((await get(off, '/private', token)).status).toBe(200);
      }
      expect(held(small).verifiedBytes).toBeLessThanOrEqual(0.01 * 1024 * 1024);
      expect(held(small).verified.size).toBeGreaterThan(0);
      expect(held(small).verified.size).toBeLessThan(40);
      // The newest stayed, the oldest went.
      expect(held(small).verified.has(cacheKey(tokens[39]!))).toBe(true);
      expect(held(small).verified.has(cacheKey(tokens[0]!))).toBe(false);
      expect(held(off).verified.size).toBe(0);
      expect((await get(off, '/private', tokens[0]!)).status).toBe(200);
    } finally {
      await small.close();
      await off.close();
      await provider.close();
    }
  });
});

describe('the cache counts what it keeps, not the token text', () => {
  test("40 RS256 tokens (a 342-character signature each) all stay within 0.05 MB: the key is the token's digest", async () => {
    const provider = await new JwksServer().start();
    provider.addKey('RS256');
    const app = await bootApp(
      { jwt: { secret: SECRET, verifiedTokenCacheMb: 0.05 }, trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] },
      { controllers: ALL_CONTROLLERS },
    );
    try {
      const held = app.get(TrustedIssuers) as unknown as { verified: Map<string, unknown>; verifiedBytes: number };
      const tokens = await Promise.all(Array.from({ length: 40 }, () => provider.sign(provider.claims('api'))));
      expect(tokens[0]!.length).toBeGreaterThan(550);
      for (const token of tokens) expect((await get(app, '/private', token)).status).toBe(200);
      // Keyed by the token's text with its characters counted twice, 27 of these fitted and round robin over 40
      // never hit; by its digest, every one is held, and each is found again.
      expect(held.verified.size).toBe(40);
      expect(held.verifiedBytes).toBeLessThanOrEqual(0.05 * 1024 * 1024);
      expect([...held.verified.keys()].every((k) => k.length === 32)).toBe(true);
      for (const token of tokens) expect(held.verified.has(cacheKey(token))).toBe(true);
      // A token that differs in one byte of its signature is not found under another's key.
      const tampered = tokens[5]!.slice(0, -2) + (tokens[5]!.endsWith('A') ? 'BA' : 'AA');
      expect((await get(app, '/private', tampered)).status).toBe(401);
    } finally {
      await app.close();
      await provider.close();
    }
  });
});

describe("tokenType: 'at+jwt'", () => {
  test('refuses typ JWT and no typ on tokens the provider really signed (an ID token is not an access token)', async () => {
    const provider = await new JwksServer().start();
    provider.addKey('ES256');
    const app = await bootApp(
      { trustedIssuers: [{ issuer: provider.issuer, audience: 'api', tokenType: 'at+jwt' }] },
      { controllers: ALL_CONTROLLERS },
    );
    try {
      expect((await get(app, '/private', await provider.sign(provider.claims('api')))).status).toBe(200);
      for (const typ of ['JWT', undefined]) {
        const res = await get(app, '/private', await provider.sign(provider.claims('api'), undefined, { typ }));
        expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'token_invalid' });
      }
    } finally {
      await app.close();
      await provider.close();
    }
  });
});

describe('trusted issuers only (no jwt option)', () => {
  const provider = new JwksServer();
  let app: INestApplication;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    await provider.start();
    provider.addKey('ES256');
    app = await bootApp({ trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] }, { controllers: ALL_CONTROLLERS, logger });
  });
  afterAll(async () => {
    await app.close();
    await provider.close();
  });

  test('the boot says once that the app issues no tokens', () => {
    expect(logger.lines.filter((l) => l.includes('issues none'))).toHaveLength(1);
  });

  test('provider tokens authenticate; a token that is no provider token is 401 token_invalid', async () => {
    const token = await provider.sign(provider.claims('api', { scope: 'articles:read' }));
    expect((await get(app, '/articles', token)).status).toBe(200);
    const { forgeAccessToken } = await import('../support/tokens.js');
    const res = await get(app, '/private', forgeAccessToken());
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'token_invalid' });
    const garbage = await get(app, '/private', 'not.a.token');
    expect({ status: garbage.status, code: garbage.body.code }).toEqual({ status: 401, code: 'token_invalid' });
  });

  test('login, refresh and createToken throw an error that says why (issuesTokens: false, derived from no jwt option)', async () => {
    // `issuesTokens` is not an option an app sets: the resolver derives it (trusted issuers and no `jwt`), and this
    // is its effect. With `jwt` given beside the issuers it is true and login works (the mixed-mode suite above).
    expect(resolveAuthOptions({ trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] }).issuesTokens).toBe(false);
    expect(resolveAuthOptions({ jwt: { secret: SECRET }, trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] }).issuesTokens).toBe(true);
    const auth = app.get(AuthService);
    await expect(auth.login('alice', 'x')).rejects.toThrow(/issues no tokens/);
    await expect(auth.refresh('x')).rejects.toThrow(/issues no tokens/);
    await expect(auth.createToken({ sub: '1' })).rejects.toThrow(/issues no tokens/);
    await expect(auth.createTokenForUser({ id: 1, username: 'a', passwordHash: 'x' })).rejects.toThrow(/issues no tokens/);
  });
});

describe('trusted issuer options fail the boot, naming the option', () => {
  const boot = (options: unknown) => initError([AuthModule.forRoot(options as AuthModuleOptions)]);
  const base = { issuer: 'https://idp.example.com', audience: 'api' };

  test.each<[string, unknown, RegExp]>([
    ['not an array', { jwt: { secret: SECRET }, trustedIssuers: {} }, /"trustedIssuers"/],
    ['no audience', { trustedIssuers: [{ issuer: base.issuer }] }, /trustedIssuers\[0\]\.audience/],
    ['an unknown member', { trustedIssuers: [{ ...base, audiences: 'x' }] }, /trustedIssuers\[0\]\.audiences.*unknown/],
    ['HS256 allowed', { trustedIssuers: [{ ...base, algorithms: ['RS256', 'HS256'] }] }, /trustedIssuers\[0\]\.algorithms.*HS256/],
    ['none allowed', { trustedIssuers: [{ ...base, algorithms: ['none'] }] }, /trustedIssuers\[0\]\.algorithms.*none/],
    ['an http issuer off loopback', { trustedIssuers: [{ ...base, issuer: 'http://idp.example.com' }] }, /trustedIssuers\[0\]\.issuer.*https/],
    ['an http jwksUri off loopback', { trustedIssuers: [{ ...base, jwksUri: 'http://idp.example.com/keys' }] }, /trustedIssuers\[0\]\.jwksUri/],
    ['an unknown preset', { trustedIssuers: [{ ...base, preset: 'okta' }] }, /trustedIssuers\[0\]\.preset/],
    ['a bad claims path', { trustedIssuers: [{ ...base, claims: { permissions: [] } }] }, /trustedIssuers\[0\]\.claims\.permissions/],
    ['a bad onUnreachable', { trustedIssuers: [{ ...base, onUnreachable: 'wait' }] }, /trustedIssuers\[0\]\.onUnreachable/],
    ['the same issuer twice', { trustedIssuers: [base, base] }, /trustedIssuers\[1\]\.issuer.*twice/],
    [
      'the app issuer as a trusted one',
      { jwt: { secret: SECRET, issuer: base.issuer }, trustedIssuers: [base] },
      /trustedIssuers\[0\]\.issuer.*jwt\.issuer/,
    ],
    ['neither jwt nor trustedIssuers', { trustedIssuers: [] }, /"jwt".*trustedIssuers/],
  ])('%s', async (_name, options, message) => {
    const err = await boot(options);
    expect(err?.message).toMatch(message);
  });

  describe('a provider unreachable at boot', () => {
    let provider: JwksServer;
    afterEach(async () => provider.close());

    test("onUnreachable: 'fail' fails the boot naming the issuer entry", async () => {
      provider = await new JwksServer().start();
      provider.fault = 'status500';
      const err = await boot({ trustedIssuers: [{ issuer: provider.issuer, audience: 'api', onUnreachable: 'fail' }] });
      expect(err?.message).toMatch(/trustedIssuers\[0\]\.onUnreachable.*HTTP 500/);
    });

    test("onUnreachable: 'retry' (the default) boots, answers 503 auth_unavailable while down, then verifies once it is back", async () => {
      provider = await new JwksServer().start();
      provider.addKey('RS256');
      provider.fault = 'status500';
      const clock = new TestClock();
      const app = await bootApp({ clock, trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] }, { controllers: ALL_CONTROLLERS });
      try {
        const token = await provider.sign(provider.claims('api'));
        const down = await get(app, '/private', token);
        expect({ status: down.status, code: down.body.code }).toEqual({ status: 503, code: 'auth_unavailable' });
        provider.fault = 'none';
        // Within the cool-down after the failed read: still 503, and no read.
        const reads = provider.reads.jwks;
        expect((await get(app, '/private', token)).status).toBe(503);
        expect(provider.reads.jwks).toBe(reads);
        clock.advanceSeconds(11);
        expect((await get(app, '/private', token)).status).toBe(200);
      } finally {
        await app.close();
      }
    });
  });
});
