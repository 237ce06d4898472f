// Token introspection (RFC 7662) against a real OpenID Provider: panva's oidc-provider issues opaque access tokens for
// a resource and answers its introspection endpoint; the API authenticates to it with client_secret_basic. Answers
// are cached (bounded by the token's exp and cacheMaxSeconds); a provider that cannot answer (down, hanging, 500,
// malformed, a non-boolean `active`) is 503 auth_unavailable within the fetch timeout, never an acceptance.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { TestClock } from '../../src/testing/index.js';
import { ADAPTERS, bootApp, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { DpopClient } from './support/dpop-client.js';
import { INTROSPECTOR, OP_CLIENT_ID, OPAQUE_RESOURCE, TestOpenIdProvider } from './support/openid-provider.js';

const INTROSPECTION_PATH = '/token/introspection';

describe.each(ADAPTERS)('opaque tokens of a real OpenID Provider, introspected, on %s', (adapter: Adapter) => {
  const op = new TestOpenIdProvider();
  const clock = new TestClock();
  let app: INestApplication;

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    app = await bootApp(
      {
        clock,
        trustedIssuers: [
          {
            issuer: op.issuer,
            audience: OPAQUE_RESOURCE,
            claims: { permissions: 'scope' },
            introspection: { clientId: INTROSPECTOR.clientId, clientSecret: INTROSPECTOR.clientSecret, cacheMaxSeconds: 30 },
          },
        ],
      },
      { adapter, controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    await op.close();
  });

  const call = async (path: string, token: string) => {
    const res = await request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);
    return { status: res.status, code: res.body.code as string | undefined, body: res.body };
  };
  const asked = () => op.hits.get(INTROSPECTION_PATH) ?? 0;

  test('an opaque token is introspected (discovery finds the endpoint): its scope becomes the permissions, its client the caller', async () => {
    const token = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE });
    expect(token.split('.')).toHaveLength(1);
    const res = await call('/context', token);
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ userId: OP_CLIENT_ID, issuer: op.issuer, permissions: ['articles:read'], backend: 'jwt' });
    expect((await call('/articles', token)).status).toBe(200);
    expect(await call('/articles/both', token)).toMatchObject({ status: 403, code: 'permission_denied' });
  });

  test('an unknown token is inactive: 401 token_invalid', async () => {
    expect(await call('/private', 'an-opaque-token-the-provider-never-issued')).toMatchObject({ status: 401, code: 'token_invalid' });
  });

  test('answers are cached for cacheMaxSeconds: a token revoked at the provider is refused once the cached answer ends', async () => {
    const token = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE });
    const before = asked();
    for (let i = 0; i < 5; i++) expect((await call('/private', token)).status).toBe(200);
    expect(asked() - before).toBe(1);
    await op.revoke(token);
    expect((await call('/private', token)).status).toBe(200);
    clock.advanceSeconds(31);
    expect(await call('/private', token)).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(asked() - before).toBe(2);
  });

  test("a cached answer is never used past the token's exp", async () => {
    const token = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE });
    expect((await call('/private', token)).status).toBe(200);
    // The provider's tokens live an hour: past its exp the answer is not reused, and the new one says it expired.
    clock.advanceSeconds(3700);
    expect(await call('/private', token)).toMatchObject({ status: 401, code: 'token_expired' });
  });
});

describe('introspection faults, through the TCP proxy and a misbehaving endpoint', () => {
  const op = new TestOpenIdProvider();
  const clock = new TestClock();
  let proxy: TcpProxy;
  let bad: http.Server;
  let badMode: 'status500' | 'malformed' | 'string-active' | 'huge' = 'status500';
  const apps: INestApplication[] = [];

  const boot = async (endpoint: string) => {
    const app = await bootApp(
      {
        clock,
        trustedIssuers: [
          {
            issuer: op.issuer,
            audience: OPAQUE_RESOURCE,
            fetchTimeoutMs: 500,
            introspection: { clientId: INTROSPECTOR.clientId, clientSecret: INTROSPECTOR.clientSecret, endpoint, cacheMaxSeconds: 5 },
          },
        ],
      },
      { controllers: ALL_CONTROLLERS },
    );
    apps.push(app);
    return app;
  };
  const call = async (app: INestApplication, token: string) => {
    const res = await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`);
    return { status: res.status, code: res.body.code as string | undefined };
  };

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    proxy = await new TcpProxy(Number(new URL(op.issuer).port)).start();
    bad = http.createServer((req, res) => {
      req.resume();
      if (badMode === 'status500') res.writeHead(500).end('{"error":"server_error"}');
      else if (badMode === 'malformed') res.writeHead(200, { 'content-type': 'application/json' }).end('{"active": true, "active": false');
      else if (badMode === 'string-active')
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"active":"true","aud":"${OPAQUE_RESOURCE}","sub":"x"}`);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(`{"active":true,"pad":"${'x'.repeat(200_000)}"}`);
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await proxy.stop();
    await new Promise((r) => bad.close(r));
    await op.close();
  });

  test('provider refusing connections or hanging: 503 auth_unavailable; a fresh answer keeps working; back, new tokens pass', async () => {
    const app = await boot(proxy.url(`${op.issuer}${INTROSPECTION_PATH}`).replace(/\/$/, ''));
    const cached = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE });
    const fresh = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE });
    expect((await call(app, cached)).status).toBe(200);

    proxy.refuse(true);
    proxy.reset();
    expect(await call(app, fresh)).toEqual({ status: 503, code: 'auth_unavailable' });
    // The answer cached for the other token still holds (within cacheMaxSeconds).
    expect((await call(app, cached)).status).toBe(200);
    proxy.refuse(false);

    proxy.blackhole();
    expect(await call(app, fresh)).toEqual({ status: 503, code: 'auth_unavailable' });
    proxy.forward();
    proxy.reset();
    expect((await call(app, fresh)).status).toBe(200);
  });

  test.each(['status500', 'malformed', 'huge'] as const)('an endpoint answering %s: 503 auth_unavailable, never accepted', async (mode) => {
    badMode = mode;
    const app = await boot(`http://127.0.0.1:${(bad.address() as AddressInfo).port}/introspect`);
    expect(await call(app, `opaque-${mode}`)).toEqual({ status: 503, code: 'auth_unavailable' });
  });

  test('an answer whose active is not the boolean true is inactive: 401', async () => {
    badMode = 'string-active';
    const app = await boot(`http://127.0.0.1:${(bad.address() as AddressInfo).port}/introspect`);
    expect(await call(app, 'opaque-string-active')).toEqual({ status: 401, code: 'token_invalid' });
  });

  test('wrong client credentials at the provider: 503 (the provider refuses the API, not the caller)', async () => {
    const app = await bootApp(
      {
        trustedIssuers: [
          { issuer: op.issuer, audience: OPAQUE_RESOURCE, introspection: { clientId: INTROSPECTOR.clientId, clientSecret: 'not-the-secret' } },
        ],
      },
      { controllers: ALL_CONTROLLERS },
    );
    apps.push(app);
    const token = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE });
    expect(await call(app, token)).toEqual({ status: 503, code: 'auth_unavailable' });
  });
});

describe('an opaque DPoP-bound token, introspected', () => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('ES256');
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    app = await bootApp(
      {
        trustedIssuers: [
          {
            issuer: op.issuer,
            audience: OPAQUE_RESOURCE,
            dpop: 'allowed',
            introspection: { clientId: INTROSPECTOR.clientId, clientSecret: INTROSPECTOR.clientSecret },
          },
        ],
      },
      { controllers: ALL_CONTROLLERS },
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await op.close();
  });

  test("the answer's cnf.jkt binds it: with its proof 200, as a bearer token 401", async () => {
    const token = await op.accessToken('articles:read', { resource: OPAQUE_RESOURCE, dpopProof: client.forTokenEndpoint() });
    const proof = client.proof({ htm: 'GET', htu: `${base}/private`, token });
    expect((await fetch(`${base}/private`, { headers: { authorization: `DPoP ${token}`, dpop: proof } })).status).toBe(200);
    const bearer = await fetch(`${base}/private`, { headers: { authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/DPoP algs=/);
  });
});
