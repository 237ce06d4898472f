// A trusted issuer's keys: discovery, the cached JWK Set and its bounds, rotation and removal, the cool-down on
// unknown kids, and every way a provider can fail (down, hung, 500, malformed, huge, redirected, on another host).
// Time moves with a TestClock; nothing sleeps.
import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { TrustedIssuerOptions } from '../../src/issuers/trusted-issuer.options.js';
import { TestClock } from '../../src/testing/index.js';
import { ADAPTERS, bootApp, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { JwksServer, type Fault } from './support/jwks-server.js';

let provider: JwksServer;
let app: INestApplication | undefined;
let clock: TestClock;
const closers: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  clock = new TestClock();
  provider = await new JwksServer('/idp').start();
  provider.addKey('RS256');
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  for (const close of closers.splice(0)) await close();
  await provider.close();
});

async function boot(entry: Partial<TrustedIssuerOptions> = {}, adapter: Adapter = 'express'): Promise<INestApplication> {
  app = await bootApp(
    { clock, trustedIssuers: [{ issuer: provider.issuer, audience: 'api', fetchTimeoutMs: 500, ...entry }] },
    { adapter, controllers: ALL_CONTROLLERS },
  );
  return app;
}

const now = () => Math.floor(clock.now() / 1000);
const tokenOf = (key = provider.served[0], extra: Record<string, unknown> = {}) =>
  provider.sign(provider.claims('api', { exp: now() + 3600, ...extra }, now()), key);

async function status(token: string): Promise<{ status: number; code?: string }> {
  const res = await request(app!.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`);
  return res.status === 200 ? { status: 200 } : { status: res.status, code: res.body.code };
}

describe('discovery', () => {
  test('reads the discovery document once, then the key set it names', async () => {
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 200 });
    expect(provider.reads).toEqual({ discovery: 1, jwks: 1 });
  });

  test('with jwksUri configured, no discovery read, and the key set may live on another host', async () => {
    const keyHost = await new JwksServer().start();
    closers.push(() => keyHost.close());
    const key = keyHost.addKey('ES256');
    await boot({ jwksUri: keyHost.jwksUri });
    expect(await status(await provider.sign(provider.claims('api', {}, now()), key))).toEqual({ status: 200 });
    expect(provider.reads.discovery).toBe(0);
    expect(keyHost.reads.jwks).toBe(1);
  });

  test("a discovery document naming another host's key set is refused: that host is never contacted (503 until configured)", async () => {
    const elsewhere = await new JwksServer().start();
    closers.push(() => elsewhere.close());
    elsewhere.addKey('RS256');
    provider.discovery = { jwks_uri: elsewhere.jwksUri };
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 503, code: 'auth_unavailable' });
    expect(elsewhere.reads.jwks).toBe(0);
  });

  test('a discovery document whose issuer is not the configured one is refused (503)', async () => {
    provider.discovery = { issuer: `${provider.issuer}-evil` };
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 503, code: 'auth_unavailable' });
    expect(provider.reads.jwks).toBe(0);
  });

  test('a redirect is not followed (503)', async () => {
    provider.fault = 'redirect';
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 503, code: 'auth_unavailable' });
  });
});

describe('the cached key set', () => {
  test.each<[string, string | undefined, number]>([
    ['none sent: 10 min', undefined, 600],
    ['max-age=60', 'public, max-age=60', 60],
    ['max-age=5, raised to 30 s', 'max-age=5', 30],
    ['no-store, raised to 30 s', 'no-store', 30],
    ['max-age=86400, lowered to 10 min', 'max-age=86400', 600],
  ])('Cache-Control %s', async (_name, cacheControl, seconds) => {
    provider.cacheControl = cacheControl;
    await boot();
    const token = await tokenOf();
    expect(await status(token)).toEqual({ status: 200 });
    const reads = provider.reads.jwks;
    clock.advanceSeconds(seconds - 2);
    expect(await status(token)).toEqual({ status: 200 });
    expect(provider.reads.jwks).toBe(reads);
    clock.advanceSeconds(3);
    expect(await status(token)).toEqual({ status: 200 });
    expect(provider.reads.jwks).toBe(reads + 1);
  });

  test('keys rotated: a token under a new kid makes one read and passes', async () => {
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 200 });
    clock.advanceSeconds(11);
    const next = provider.addKey('ES256', 'rotated-in');
    expect(await status(await tokenOf(next))).toEqual({ status: 200 });
    expect(provider.reads.jwks).toBe(2);
  });

  test('a key the provider removed is refused once the cached set is read again (within its max-age), verified tokens included', async () => {
    provider.cacheControl = 'max-age=60';
    const old = provider.served[0]!;
    const next = provider.addKey('RS256', 'next');
    await boot();
    const oldToken = await tokenOf(old);
    const nextToken = await tokenOf(next);
    expect(await status(oldToken)).toEqual({ status: 200 });
    provider.removeKey(old);
    // Until the set's max-age: the cached set still lists it.
    clock.advanceSeconds(59);
    expect(await status(oldToken)).toEqual({ status: 200 });
    clock.advanceSeconds(2);
    expect(await status(oldToken)).toEqual({ status: 401, code: 'token_invalid' });
    expect(await status(nextToken)).toEqual({ status: 200 });
    // And it stays refused: no read for it within the cool-down, none brings it back.
    expect(await status(oldToken)).toEqual({ status: 401, code: 'token_invalid' });
  });

  test('a flood of made-up kids: at most one read per 10 s, each token 401 token_invalid', async () => {
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 200 });
    const baseline = provider.reads.jwks;
    const forged = async (i: number) => provider.sign(provider.claims('api', {}, now()), provider.served[0], { kid: `made-up-${i}` });
    for (let second = 0; second < 30; second += 2) {
      const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => status(await forged(second * 100 + i))));
      expect(new Set(answers.map((a) => `${a.status} ${a.code}`))).toEqual(new Set(['401 token_invalid']));
      clock.advanceSeconds(2);
    }
    // 300 tokens over 30 s: at most one read per 10 s window.
    expect(provider.reads.jwks - baseline).toBeLessThanOrEqual(3);
    expect(provider.reads.jwks - baseline).toBeGreaterThanOrEqual(1);
  });

  test('JWKs without alg (Entra ID) work for the allowed algorithms of their key type; enc keys and secrets are never used', async () => {
    provider.omit = ['alg'];
    const ec = provider.addKey('ES256', 'ec-no-alg');
    const enc = provider.addKey('RS256', 'enc-key');
    enc.publicJwk.use = 'enc';
    await boot();
    expect(await status(await tokenOf())).toEqual({ status: 200 });
    expect(await status(await tokenOf(ec))).toEqual({ status: 200 });
    expect(await status(await tokenOf(enc))).toEqual({ status: 401, code: 'token_invalid' });
  });

  test('a key the issuer does not allow (EdDSA when the list is RS256, ES256) is not used', async () => {
    const ed = provider.addKey('EdDSA', 'ed');
    await boot();
    expect(await status(await tokenOf(ed))).toEqual({ status: 401, code: 'token_invalid' });
    await app!.close();
    app = undefined;
    await boot({ algorithms: ['EdDSA'] });
    expect(await status(await tokenOf(ed))).toEqual({ status: 200 });
  });
});

describe.each(ADAPTERS)('a failing provider on %s', (adapter) => {
  test.each<[Fault]>([['status500'], ['malformed'], ['duplicate-member'], ['huge'], ['hang']])(
    '%s: cached keys keep working, a token under a key not cached is 503 auth_unavailable',
    async (fault) => {
      await boot({}, adapter);
      const cached = await tokenOf();
      expect(await status(cached)).toEqual({ status: 200 });
      const fresh = provider.addKey('ES256', 'not-cached-yet');
      provider.fault = fault;
      clock.advanceSeconds(601);
      // The set is stale and cannot be read: its keys still verify.
      expect(await status(cached)).toEqual({ status: 200 });
      clock.advanceSeconds(11);
      expect(await status(await tokenOf(fresh))).toEqual({ status: 503, code: 'auth_unavailable' });
      // Back: the next read (after the cool-down) brings the new key.
      provider.fault = 'none';
      clock.advanceSeconds(11);
      expect(await status(await tokenOf(fresh))).toEqual({ status: 200 });
    },
  );
});

describe('a provider that goes down (TCP proxy)', () => {
  test('reset and refused connections: cached keys keep working, others 503; never a 401 or a pass', async () => {
    const proxy = await new TcpProxy(Number(new URL(provider.origin).port)).start();
    closers.push(() => proxy.stop());
    provider.publicOrigin = `http://127.0.0.1:${proxy.port}`;
    await boot();
    const cached = await tokenOf();
    expect(await status(cached)).toEqual({ status: 200 });
    proxy.reset();
    proxy.refuse(true);
    const fresh = provider.addKey('ES256', 'during-outage');
    clock.advanceSeconds(11);
    expect(await status(await tokenOf(fresh))).toEqual({ status: 503, code: 'auth_unavailable' });
    clock.advanceSeconds(601);
    expect(await status(cached)).toEqual({ status: 200 });
    proxy.forward();
    clock.advanceSeconds(11);
    expect(await status(await tokenOf(fresh))).toEqual({ status: 200 });
  });
});
