// DPoP (RFC 9449) with a real OpenID Provider: panva's oidc-provider binds the access tokens a client asks for with a
// proof to that client's key (cnf.jkt); an app whose trusted issuer has `dpop` takes them over real HTTP on Express
// and Fastify with the `DPoP` scheme and a fresh proof per request, and refuses every forged, stale, replayed or
// downgraded use. Behind a proxy the app trusts, the proof names the URL the client used.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createHash } from 'node:crypto';
import request from 'supertest';
import { AuthModule } from '../../src/index.js';
import { ADAPTERS, bootApp, initError, SECRET, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { bootTrustingProxy } from '../support/trusted-proxy-app.js';
import { DpopClient, send, urlOf, type ProofOptions } from './support/dpop-client.js';
import { OP_CLIENT_ID, RESOURCE, TestOpenIdProvider } from './support/openid-provider.js';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe.each(ADAPTERS)('DPoP-bound tokens of a real OpenID Provider on %s', (adapter: Adapter) => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('ES256');
  let allowed: INestApplication;
  let required: INestApplication;
  let base: string;
  let token: string;

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    const issuer = (dpop: 'required' | 'allowed') => ({
      trustedIssuers: [{ issuer: op.issuer, audience: RESOURCE, tokenType: 'at+jwt' as const, claims: { permissions: 'scope' }, dpop }],
    });
    allowed = await bootApp(issuer('allowed'), { adapter, controllers: ALL_CONTROLLERS });
    await allowed.listen(0, '127.0.0.1');
    required = await bootApp(issuer('required'), { adapter, controllers: ALL_CONTROLLERS });
    await required.listen(0, '127.0.0.1');
    base = urlOf(allowed);
    token = await op.accessToken('articles:read', { dpopProof: client.forTokenEndpoint() });
  });
  afterAll(async () => {
    await allowed.close();
    await required.close();
    await op.close();
  });

  const dpopCall = (path: string, proof: Partial<ProofOptions> = {}, as = client, at = base, method = 'GET') =>
    send(`${at}${path}`, { method, authorization: `DPoP ${token}`, dpop: as.proof({ htm: method, htu: `${at}${path}`, token, ...proof }) });

  test("the provider binds the token to the client's key, and the token with a fresh proof authenticates", async () => {
    expect(claimsOf(token).cnf).toEqual({ jkt: client.thumbprint });
    const res = await dpopCall('/context');
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ userId: OP_CLIENT_ID, issuer: op.issuer, permissions: ['articles:read'] });
    // A proof per request; the query is not part of htu (RFC 9449 §4.3).
    expect((await dpopCall('/articles?page=2', { htu: `${base}/articles` })).status).toBe(200);
    expect((await dpopCall('/private', {}, client, urlOf(required))).status).toBe(200);
  });

  test('a proof is accepted once: its replay is 401 with the invalid_dpop_proof challenge', async () => {
    const proof = client.proof({ htm: 'GET', htu: `${base}/private`, token });
    const first = await send(`${base}/private`, { authorization: `DPoP ${token}`, dpop: proof });
    expect(first.status).toBe(200);
    const again = await send(`${base}/private`, { authorization: `DPoP ${token}`, dpop: proof });
    expect(again).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(again.challenge).toMatch(/^DPoP error="invalid_dpop_proof", algs="[A-Z0-9 a-z]*ES256/);
  });

  test('the bound token as a bearer token is refused (no downgrade), with both challenges', async () => {
    for (const at of [base, urlOf(required)]) {
      const res = await send(`${at}/private`, { authorization: `Bearer ${token}` });
      expect(res).toMatchObject({ status: 401, code: 'token_invalid' });
      expect(res.challenge).toMatch(/^Bearer error="invalid_token", DPoP algs="/);
      // The proof next to a Bearer token changes nothing.
      const withProof = await send(`${at}/private`, {
        authorization: `Bearer ${token}`,
        dpop: client.proof({ htm: 'GET', htu: `${at}/private`, token }),
      });
      expect(withProof).toMatchObject({ status: 401, code: 'token_invalid' });
    }
  });

  test("'allowed' takes unbound tokens as bearer tokens, 'required' refuses them; an unbound token cannot use the DPoP scheme", async () => {
    const unbound = await op.accessToken('articles:read');
    expect(claimsOf(unbound).cnf).toBeUndefined();
    expect((await send(`${base}/private`, { authorization: `Bearer ${unbound}` })).status).toBe(200);
    const refused = await send(`${urlOf(required)}/private`, { authorization: `Bearer ${unbound}` });
    expect(refused).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(refused.challenge).toContain('DPoP algs=');
    const asDpop = await send(`${base}/private`, {
      authorization: `DPoP ${unbound}`,
      dpop: client.proof({ htm: 'GET', htu: `${base}/private`, token: unbound }),
    });
    expect(asDpop).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(asDpop.challenge).toMatch(/^DPoP error="invalid_token"/);
  });

  test.each<[string, (c: DpopClient) => Partial<ProofOptions> & { as?: DpopClient; raw?: string }]>([
    ['wrong htm', () => ({ htm: 'POST' })],
    ['wrong htu path', () => ({ htu: `${'BASE'}/public` })],
    ['wrong htu host', () => ({ htu: 'http://evil.example/private' })],
    ['stale iat', () => ({ iat: Math.floor(Date.now() / 1000) - 120 })],
    ['iat in the future', () => ({ iat: Math.floor(Date.now() / 1000) + 120 })],
    ['wrong ath', () => ({ payload: { ath: createHash('sha256').update('another token').digest('base64url') } })],
    ['no ath', () => ({ payload: { ath: undefined } })],
    ['no jti', () => ({ payload: { jti: undefined } })],
    ['a key other than the bound one (jkt mismatch)', () => ({ as: new DpopClient('ES256') })],
    ['the private key in the jwk', (c) => ({ header: { jwk: c.privateJwk } })],
    ['alg none', () => ({ signAs: 'none' })],
    ['alg HS256', () => ({ signAs: 'HS256' })],
    ['typ JWT', () => ({ header: { typ: 'JWT' } })],
    ['no jwk', () => ({ header: { jwk: undefined } })],
    ['a jku instead of the jwk', () => ({ header: { jku: 'http://evil.example/jwks' } })],
    [
      'a signature of another key',
      (c) => ({
        raw:
          c.proof({ htm: 'GET', htu: 'BASE/private' }).split('.').slice(0, 2).join('.') +
          '.' +
          new DpopClient('ES256').proof({ htm: 'GET', htu: 'x' }).split('.')[2],
      }),
    ],
    ['two proofs', (c) => ({ raw: `${c.proof({ htm: 'GET', htu: 'BASE/private' })}, ${c.proof({ htm: 'GET', htu: 'BASE/private' })}` })],
    ['no proof', () => ({ raw: '' })],
  ])('attack: %s is 401 token_invalid with the DPoP challenge', async (_name, make) => {
    const { as, raw, ...proof } = make(client);
    if (proof.htu) proof.htu = proof.htu.replace('BASE', base);
    const url = `${base}/private`;
    const dpop = raw !== undefined ? raw.replaceAll('BASE', base) : (as ?? client).proof({ htm: 'GET', htu: url, token, ...proof });
    const res = await send(url, { authorization: `DPoP ${token}`, ...(dpop === '' ? {} : { dpop }) });
    expect(res).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(res.challenge).toMatch(/^DPoP error="invalid_dpop_proof", algs="/);
  });
});

describe.each(ADAPTERS)('DPoP behind a proxy, and server nonces, on %s', (adapter: Adapter) => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('RS256');
  const apps: INestApplication[] = [];
  let token: string;
  const options = (extra: Record<string, unknown> = {}) => ({
    trustedIssuers: [{ issuer: op.issuer, audience: RESOURCE, tokenType: 'at+jwt' as const, dpop: 'required' as const, ...extra }],
  });

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('RS256', 'k1')]);
    token = await op.accessToken('articles:read', { dpopProof: client.forTokenEndpoint() });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await op.close();
  });

  test('behind a trusted proxy the proof names the public URL (X-Forwarded-Proto/-Host); the local one is refused', async () => {
    const app = await bootTrustingProxy(adapter, options());
    apps.push(app);
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.test' };
    const publicUrl = 'https://api.example.test/private';
    const ok = await send(`${urlOf(app)}/private`, {
      authorization: `DPoP ${token}`,
      dpop: client.proof({ htm: 'GET', htu: publicUrl, token }),
      headers: forwarded,
    });
    expect(ok.status).toBe(200);
    const local = await send(`${urlOf(app)}/private`, {
      authorization: `DPoP ${token}`,
      dpop: client.proof({ htm: 'GET', htu: `${urlOf(app)}/private`, token }),
      headers: forwarded,
    });
    expect(local).toMatchObject({ status: 401, code: 'token_invalid' });
  });

  test('an app that trusts no proxy ignores X-Forwarded-*: only its own URL passes', async () => {
    const app = await bootApp(options(), { adapter, controllers: ALL_CONTROLLERS });
    await app.listen(0, '127.0.0.1');
    apps.push(app);
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.test' };
    const spoofed = await send(`${urlOf(app)}/private`, {
      authorization: `DPoP ${token}`,
      dpop: client.proof({ htm: 'GET', htu: 'https://api.example.test/private', token }),
      headers: forwarded,
    });
    expect(spoofed).toMatchObject({ status: 401, code: 'token_invalid' });
    const own = await send(`${urlOf(app)}/private`, {
      authorization: `DPoP ${token}`,
      dpop: client.proof({ htm: 'GET', htu: `${urlOf(app)}/private`, token }),
      headers: forwarded,
    });
    expect(own.status).toBe(200);
  });

  test('with nonces: a proof without one gets use_dpop_nonce and a DPoP-Nonce; with it the call passes, on every instance sharing the secret', async () => {
    const nonce = { secret: 'a-dpop-nonce-secret-shared-by-all-instances' };
    const a = await bootApp(options({ dpopOptions: { nonce } }), { adapter, controllers: ALL_CONTROLLERS });
    await a.listen(0, '127.0.0.1');
    const b = await bootApp(options({ dpopOptions: { nonce } }), { adapter, controllers: ALL_CONTROLLERS });
    await b.listen(0, '127.0.0.1');
    apps.push(a, b);
    const first = await send(`${urlOf(a)}/private`, {
      authorization: `DPoP ${token}`,
      dpop: client.proof({ htm: 'GET', htu: `${urlOf(a)}/private`, token }),
    });
    expect(first).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(first.challenge).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(first.nonce).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    for (const app of [a, b]) {
      const url = `${urlOf(app)}/private`;
      expect(
        (await send(url, { authorization: `DPoP ${token}`, dpop: client.proof({ htm: 'GET', htu: url, token, nonce: first.nonce! }) })).status,
      ).toBe(200);
    }
    const forged = await send(`${urlOf(a)}/private`, {
      authorization: `DPoP ${token}`,
      dpop: client.proof({ htm: 'GET', htu: `${urlOf(a)}/private`, token, nonce: 'A'.repeat(30) }),
    });
    expect(forged.challenge).toMatch(/^DPoP error="use_dpop_nonce"/);
  });
});

describe('DPoP and introspection options fail the boot when they cannot work', () => {
  const issuer = 'https://op.example.com';
  const boot = (entry: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    initError([
      AuthModule.forRoot({ trustedIssuers: [{ issuer, audience: 'api', jwksUri: 'https://op.example.com/jwks', ...entry }] as never, ...extra }),
    ]);

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['dpop of another value', { dpop: 'maybe' }, /trustedIssuers\[0\]\.dpop.*'required' or 'allowed'/],
    ['dpopOptions without dpop', { dpopOptions: {} }, /trustedIssuers\[0\]\.dpopOptions.*dpop is not/],
    ['an HMAC proof algorithm', { dpop: 'allowed', dpopOptions: { algorithms: ['HS256'] } }, /dpopOptions\.algorithms.*HS256 is refused/],
    ['a short nonce secret', { dpop: 'allowed', dpopOptions: { nonce: { secret: 'short' } } }, /dpopOptions\.nonce\.secret/],
    ['an unknown DPoP option', { dpop: 'allowed', dpopOptions: { replay: 'x' } }, /dpopOptions\.replay.*unknown option/],
    ['introspection without a secret', { introspection: { clientId: 'api' } }, /introspection\.clientSecret/],
    [
      'an http introspection endpoint off loopback',
      { introspection: { clientId: 'a', clientSecret: 'b', endpoint: 'http://op.example.com/i' } },
      /introspection\.endpoint/,
    ],
  ])('%s', async (_name, entry, message) => {
    expect((await boot(entry))?.message).toMatch(message);
  });
});

describe('the DPoP scheme in an app whose issuers take no DPoP', () => {
  test('is no credential: 401 token_missing on a private route, a guest on a public one (as before DPoP)', async () => {
    const app = await bootApp({ jwt: { secret: SECRET } }, { controllers: ALL_CONTROLLERS });
    try {
      const res = await request(app.getHttpServer()).get('/private').set('Authorization', 'DPoP some.token.value').set('DPoP', 'a.b.c');
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('token_missing');
      expect((await request(app.getHttpServer()).get('/public').set('Authorization', 'DPoP x')).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
