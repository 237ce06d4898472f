// The DPoP challenges and server nonces of RFC 9449, over real HTTP on Express and Fastify with panva's
// oidc-provider binding the tokens: a call with no credential at all learns the DPoP scheme and its algorithms
// (§7.1), besides Bearer while bearer tokens are still taken (§7.2, RFC 9110 §11.6.1); every DPoP refusal's
// challenge has the RFC's shape and error code; and with server nonces a client that takes the `DPoP-Nonce` of
// each answer (§8.2, §9) is never refused across the nonce's rotations, while bearer calls never get one.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { TestClock } from '../../src/testing/index.js';
import { ADAPTERS, bootApp, SECRET, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { DpopClient, send, urlOf } from './support/dpop-client.js';
import { RESOURCE, TestOpenIdProvider } from './support/openid-provider.js';

/**
 * RFC 9110 §11.6.1 and RFC 6750 §3: `scheme [param="value", ...]`, challenges separated by commas; a parameter
 * belongs to the scheme before it. Throws on anything else (an unquoted space, a parameter before any scheme).
 */
function challengesOf(header: string | null): Array<{ scheme: string; params: Record<string, string> }> {
  if (header === null) return [];
  const out: Array<{ scheme: string; params: Record<string, string> }> = [];
  const item = /\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(\s*=\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9!#$%&'*+.^_`|~-]+))?/y;
  while (item.lastIndex < header.length) {
    const match = item.exec(header);
    if (match === null) throw new Error(`not a list of challenges: ${header}`);
    const [, name, param, value] = match;
    if (param === undefined) out.push({ scheme: name!, params: {} });
    else if (out.length === 0) throw new Error(`a parameter before any scheme: ${header}`);
    else out[out.length - 1]!.params[name!] = value!.startsWith('"') ? value!.slice(1, -1) : value!;
  }
  return out;
}

const DEFAULT_ALGS = 'ES256 ES384 ES512 RS256 PS256 EdDSA';

describe.each(ADAPTERS)('DPoP challenges (RFC 9449 §7) on %s', (adapter: Adapter) => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('ES256');
  const apps: Record<string, INestApplication> = {};
  let token: string;

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    const entry = (dpop: 'required' | 'allowed' | undefined, algorithms?: string[]) => ({
      issuer: op.issuer,
      audience: RESOURCE,
      tokenType: 'at+jwt' as const,
      ...(dpop === undefined ? {} : { dpop }),
      ...(algorithms === undefined ? {} : { dpopOptions: { algorithms: algorithms as never } }),
    });
    const boot = async (name: string, options: Record<string, unknown>) => {
      apps[name] = await bootApp(options, { adapter, controllers: ALL_CONTROLLERS });
      await apps[name].listen(0, '127.0.0.1');
    };
    await boot('allowed', { trustedIssuers: [entry('allowed')] });
    await boot('required', { trustedIssuers: [entry('required', ['ES256'])] });
    await boot('requiredWithOwn', { jwt: { secret: SECRET }, trustedIssuers: [entry('required', ['ES256', 'EdDSA'])] });
    await boot('noDpop', { jwt: { secret: SECRET }, trustedIssuers: [entry(undefined)] });
    token = await op.accessToken('articles:read', { dpopProof: client.forTokenEndpoint() });
  });
  afterAll(async () => {
    for (const app of Object.values(apps)) await app.close();
    await op.close();
  });

  test.each<[string, string]>([
    // Bearer is still taken: unbound tokens of an 'allowed' issuer.
    ['allowed', `Bearer, DPoP algs="${DEFAULT_ALGS}"`],
    // Only DPoP-bound tokens, and no tokens of the app's own: the DPoP challenge alone.
    ['required', 'DPoP algs="ES256"'],
    // The app's own tokens are bearer tokens.
    ['requiredWithOwn', 'Bearer, DPoP algs="ES256 EdDSA"'],
    // No issuer takes DPoP: as before.
    ['noDpop', 'Bearer'],
  ])('no credential at all in the %s app: 401 token_missing with %s', async (name, expected) => {
    const base = urlOf(apps[name]!);
    const res = await send(`${base}/private`, {});
    expect(res).toMatchObject({ status: 401, code: 'token_missing', challenge: expected, nonce: null });
    // RFC 6750 §3.1: no error code when the request carried no credential; the DPoP challenge names its algorithms.
    for (const challenge of challengesOf(res.challenge)) {
      expect(challenge.params.error).toBeUndefined();
      if (challenge.scheme === 'DPoP') expect(challenge.params.algs!.split(' ').length).toBeGreaterThan(0);
    }
    const open = await send(`${base}/public`, {});
    expect(open).toMatchObject({ status: 200, challenge: null });
  });

  test.each<[string, string]>([
    ['allowed', `Bearer error="invalid_token", DPoP algs="${DEFAULT_ALGS}"`],
    ['required', 'Bearer error="invalid_token", DPoP algs="ES256"'],
    ['requiredWithOwn', 'Bearer error="invalid_token", DPoP algs="ES256 EdDSA"'],
    ['noDpop', 'Bearer error="invalid_token"'],
  ])('a bearer token that fails in the %s app: the error on Bearer, DPoP offered (RFC 9449 §7.2, Figure 18): %s', async (name, expected) => {
    const base = urlOf(apps[name]!);
    // A token of no issuer (the app's own verifier or the issuers refuse it), and a malformed Authorization value.
    for (const authorization of ['Bearer not.a.token', 'Bearer two tokens']) {
      const res = await send(`${base}/private`, { authorization });
      expect({ authorization, status: res.status, challenge: res.challenge }).toEqual({ authorization, status: 401, challenge: expected });
    }
  });

  test("every DPoP refusal's challenge: the scheme, a registered error code and the algs (RFC 9449 §7.1, §12.2)", async () => {
    const base = urlOf(apps.required!);
    const url = `${base}/private`;
    const cases: Array<[string, Promise<Awaited<ReturnType<typeof send>>>, string, string | undefined]> = [
      // A bad proof: invalid_dpop_proof.
      [
        'a proof for another URL',
        send(url, { authorization: `DPoP ${token}`, dpop: client.proof({ htm: 'GET', htu: `${base}/public`, token }) }),
        'DPoP',
        'invalid_dpop_proof',
      ],
      ['no proof', send(url, { authorization: `DPoP ${token}` }), 'DPoP', 'invalid_dpop_proof'],
      // A bad token with a good proof: invalid_token.
      [
        'a token of no trusted issuer',
        send(url, { authorization: 'DPoP a.b.c', dpop: client.proof({ htm: 'GET', htu: url, token: 'a.b.c' }) }),
        'DPoP',
        'invalid_token',
      ],
      // The bound token as a bearer token: refused with Bearer's invalid_token, and the DPoP scheme offered.
      ['the bound token as Bearer', send(url, { authorization: `Bearer ${token}` }), 'Bearer', 'invalid_token'],
    ];
    for (const [name, pending, scheme, error] of cases) {
      const res = await pending;
      expect({ name, status: res.status, code: res.code }).toEqual({ name, status: 401, code: 'token_invalid' });
      const challenges = challengesOf(res.challenge);
      expect({ name, first: challenges[0] }).toEqual({ name, first: { scheme, params: expect.objectContaining({ error }) } });
      const dpop = challenges.find((c) => c.scheme === 'DPoP');
      expect({ name, algs: dpop?.params.algs }).toEqual({ name, algs: 'ES256' });
    }
  });
});

describe.each(ADAPTERS)('DPoP server nonces across rotations (RFC 9449 §8.2, §9) on %s', (adapter: Adapter) => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('ES256');
  const clock = new TestClock();
  const SLOT = 60;
  /** Two instances sharing the secret and the clock: the client's calls alternate between them. */
  const apps: INestApplication[] = [];
  let base: string;
  let bound: string;
  let unbound: string;

  beforeAll(async () => {
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    bound = await op.accessToken('articles:read', { dpopProof: client.forTokenEndpoint() });
    unbound = await op.accessToken('articles:read');
    const nonce = { secret: 'a-dpop-nonce-secret-shared-by-all-instances', lifetimeSeconds: SLOT };
    for (let i = 0; i < 2; i++) {
      const app = await bootApp(
        {
          clock,
          trustedIssuers: [{ issuer: op.issuer, audience: RESOURCE, tokenType: 'at+jwt', dpop: 'allowed', dpopOptions: { nonce } }],
        },
        { adapter, controllers: ALL_CONTROLLERS },
      );
      await app.listen(0, '127.0.0.1');
      apps.push(app);
    }
    base = urlOf(apps[0]!);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await op.close();
  });

  /** A DPoP call at the app's time, with the client's current nonce (to the first instance, or to `at`). */
  const call = (path: string, nonce: string | undefined, at = base) => {
    const url = `${at}${path}`;
    const iat = Math.floor(clock.now() / 1000);
    return send(url, {
      authorization: `DPoP ${bound}`,
      dpop: client.proof({ htm: 'GET', htu: url, token: bound, iat, ...(nonce ? { nonce } : {}) }),
    });
  };

  test('a client that takes each DPoP-Nonce is never refused across rotations; the header comes when its nonce is about to go stale', async () => {
    // One second into a slot, so each step's slot is known.
    clock.set((Math.floor(clock.now() / 1000 / SLOT) + 1) * SLOT * 1000 + 1000);
    const first = await call('/private', undefined);
    expect(first).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(first.challenge).toMatch(/^DPoP error="use_dpop_nonce", algs="/);
    let nonce = first.nonce!;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);

    const offered: number[] = [];
    // 12 steps of 25 s: five rotations of a 60 s nonce, two or three calls in each slot, to either instance.
    for (let step = 0; step < 12; step++) {
      const res = await call('/private', nonce, urlOf(apps[step % 2]!));
      expect({ step, status: res.status, challenge: res.challenge }).toEqual({ step, status: 200, challenge: null });
      if (res.nonce !== null) {
        expect(res.nonce).not.toBe(nonce);
        // RFC 9449 §8.2: a response with a DPoP-Nonce is not to be cached.
        expect(res.cacheControl).toBe('no-store');
        nonce = res.nonce;
        offered.push(step);
      }
      clock.advanceSeconds(25);
    }
    // The first call of each new slot (at 1, 26, 51 | 76, 101 | 126, 151, 176 | 201, 226 | 251, 276 | 301 s):
    // its nonce is then the previous slot's, stale at the end of this one.
    expect(offered).toEqual([3, 5, 8, 10]);
  });

  test('the DPoP-Nonce goes only on answers to DPoP calls: never to a bearer call or a call with no credential', async () => {
    clock.set((Math.floor(clock.now() / 1000 / SLOT) + 1) * SLOT * 1000 + 1000);
    const nonce = (await call('/private', undefined)).nonce!;
    clock.advanceSeconds(SLOT);
    // A slot later, a bearer call (an unbound token of the same 'allowed' issuer) and a guest get no nonce ...
    const bearer = await send(`${base}/private`, { authorization: `Bearer ${unbound}` });
    expect(bearer).toMatchObject({ status: 200, nonce: null });
    expect(await send(`${base}/public`, {})).toMatchObject({ status: 200, nonce: null });
    expect(await send(`${base}/private`, {})).toMatchObject({ status: 401, nonce: null });
    // ... while the DPoP call with the previous slot's nonce gets the current one.
    const dpop = await call('/private', nonce);
    expect(dpop.status).toBe(200);
    expect(dpop.nonce).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(dpop.nonce).not.toBe(nonce);
  });

  test("an instance whose clock runs a little behind takes the next slot's nonce within jwt.clockTolerance", async () => {
    const ahead = new TestClock();
    const behind = new TestClock();
    const boundary = (Math.floor(ahead.now() / 1000 / SLOT) + 2) * SLOT * 1000;
    ahead.set(boundary + 1000);
    behind.set(boundary - 2000);
    const nonce = { secret: 'a-dpop-nonce-secret-shared-by-all-instances', lifetimeSeconds: SLOT };
    const entry = { issuer: op.issuer, audience: RESOURCE, tokenType: 'at+jwt' as const, dpop: 'allowed' as const, dpopOptions: { nonce } };
    const [a, b, strict] = await Promise.all(
      [
        { clock: ahead, jwt: { secret: SECRET, clockTolerance: 5 } },
        { clock: behind, jwt: { secret: SECRET, clockTolerance: 5 } },
        { clock: behind, jwt: { secret: SECRET } },
      ].map(async (options) => {
        const app = await bootApp({ ...options, trustedIssuers: [entry] }, { adapter, controllers: ALL_CONTROLLERS });
        await app.listen(0, '127.0.0.1');
        apps.push(app);
        return urlOf(app);
      }),
    );
    const proofAt = (at: string, clockOf: TestClock, value?: string) =>
      send(`${at}/private`, {
        authorization: `DPoP ${bound}`,
        dpop: client.proof({
          htm: 'GET',
          htu: `${at}/private`,
          token: bound,
          iat: Math.floor(clockOf.now() / 1000),
          ...(value ? { nonce: value } : {}),
        }),
      });
    // The nonce of the slot that has just begun on the instance ahead ...
    const next = (await proofAt(a!, ahead)).nonce!;
    // ... is taken 2 s before that slot begins on one within its 5 s tolerance, and refused with none.
    expect((await proofAt(b!, behind, next)).status).toBe(200);
    const refused = await proofAt(strict!, behind, next);
    expect(refused).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(refused.challenge).toMatch(/^DPoP error="use_dpop_nonce"/);
  });

  test('a nonce of as many characters but non-ASCII is use_dpop_nonce, not a server error', async () => {
    const real = (await call('/private', undefined)).nonce!;
    const res = await call('/private', 'é'.repeat(real.length));
    expect(res).toMatchObject({ status: 401, code: 'token_invalid' });
    expect(res.challenge).toMatch(/^DPoP error="use_dpop_nonce"/);
  });
});
