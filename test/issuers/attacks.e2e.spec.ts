// The attack catalogue (shared/security/jwt-attacks.md) against the trusted-issuer path: every forged or bent token
// is a 401 with its code, never a 500 and never a pass; each control token passes, so the refusals are the checks.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createHmac, generateKeyPairSync, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import request from 'supertest';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { JwksServer, type ServedKey } from './support/jwks-server.js';

const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A compact JWS over exactly these header and payload texts, signed for `alg` with `key` (whatever the header says). */
function signRaw(headerText: string, payloadText: string, alg: string, key: KeyObject | string | Buffer, der = false): string {
  const input = `${b64(headerText)}.${b64(payloadText)}`;
  let signature: Buffer;
  if (alg === 'HS256')
    signature = createHmac('sha256', key as string)
      .update(input)
      .digest();
  else if (alg === 'ES256') signature = cryptoSign('sha256', Buffer.from(input), { key: key as KeyObject, dsaEncoding: der ? 'der' : 'ieee-p1363' });
  else if (alg === 'PS256')
    signature = cryptoSign('sha256', Buffer.from(input), { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  else signature = cryptoSign('sha256', Buffer.from(input), key as KeyObject);
  return `${input}.${b64(signature)}`;
}

describe.each(ADAPTERS)('the attack catalogue against trusted issuers on %s', (adapter) => {
  const a = new JwksServer('/a');
  const b = new JwksServer('/b');
  let rsa: ServedKey;
  let ec: ServedKey;
  let bKey: ServedKey;
  let app: INestApplication;
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });

  beforeAll(async () => {
    await a.start();
    await b.start();
    rsa = a.addKey('RS256', 'a-rs');
    ec = a.addKey('ES256', 'a-ec');
    // Issuer B publishes a key under a kid that issuer A also uses: kids are per issuer.
    bKey = b.addKey('RS256', 'a-rs');
    app = await bootApp(
      {
        jwt: { secret: SECRET },
        trustedIssuers: [
          { issuer: a.issuer, audience: 'api', algorithms: ['RS256', 'ES256', 'PS256'] },
          { issuer: b.issuer, audience: 'api' },
        ],
      },
      { adapter, controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    await a.close();
    await b.close();
  });

  const claims = (extra: Record<string, unknown> = {}) => JSON.stringify(a.claims('api', extra));
  const header = (key: ServedKey, extra: Record<string, unknown> = {}) => JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...extra });

  async function answer(token: string): Promise<{ status: number; code?: string }> {
    const res = await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`);
    return res.status === 200 ? { status: 200 } : { status: res.status, code: res.body.code };
  }
  const refused = { status: 401, code: 'token_invalid' };

  test('control: well-formed tokens of both issuers, RSA and EC, pass', async () => {
    expect(await answer(signRaw(header(rsa), claims(), 'RS256', rsa.privateKey))).toEqual({ status: 200 });
    expect(await answer(signRaw(header(ec), claims(), 'ES256', ec.privateKey))).toEqual({ status: 200 });
    expect(await answer(await b.sign(b.claims('api'), bKey))).toEqual({ status: 200 });
  });

  test.each(['none', 'None', 'NONE'])('alg %s, with and without a signature', async (alg) => {
    const unsigned = `${b64(header(rsa, { alg }))}.${b64(claims())}.`;
    expect(await answer(unsigned)).toEqual(refused);
    expect(await answer(`${unsigned}AAAA`)).toEqual(refused);
  });

  test("algorithm confusion: HS256 keyed with the provider's RSA public key (PEM, DER and JWK n)", async () => {
    const pub = rsa.privateKey;
    const { createPublicKey } = await import('node:crypto');
    const publicKey = createPublicKey(pub);
    for (const secret of [
      publicKey.export({ format: 'pem', type: 'spki' }) as string,
      publicKey.export({ format: 'der', type: 'spki' }).toString('latin1'),
      String(rsa.publicJwk.n),
    ]) {
      expect(await answer(signRaw(header(rsa, { alg: 'HS256' }), claims(), 'HS256', secret))).toEqual(refused);
      expect(await answer(signRaw(header(rsa, { alg: 'HS256', kid: undefined }), claims(), 'HS256', secret))).toEqual(refused);
    }
  });

  test("HS256 with the app's own secret and a trusted issuer's iss", async () => {
    expect(await answer(signRaw(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' }), claims(), 'HS256', SECRET))).toEqual(refused);
  });

  test('another allowed algorithm with the same RSA key (PS256 on an RS256 JWK)', async () => {
    expect(await answer(signRaw(header(rsa, { alg: 'PS256' }), claims(), 'PS256', rsa.privateKey))).toEqual(refused);
  });

  test('ECDSA: r = s = 0 (psychic signature), DER instead of R||S, empty signature', async () => {
    const input = `${b64(header(ec))}.${b64(claims())}`;
    expect(await answer(`${input}.${b64(Buffer.alloc(64))}`)).toEqual(refused);
    expect(await answer(signRaw(header(ec), claims(), 'ES256', ec.privateKey, true))).toEqual(refused);
    expect(await answer(`${input}.`)).toEqual(refused);
  });

  test("embedded keys: jwk, jku, x5u, x5c are refused, even on a token the provider's key really signed", async () => {
    const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
    const forged = signRaw(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', jwk: attackerJwk }), claims(), 'RS256', attacker.privateKey);
    expect(await answer(forged)).toEqual(refused);
    for (const extra of [{ jwk: rsa.publicJwk }, { jku: a.jwksUri }, { x5u: 'https://attacker.example/cert.pem' }, { x5c: ['MIIB'] }]) {
      expect(await answer(signRaw(header(rsa, extra), claims(), 'RS256', rsa.privateKey))).toEqual(refused);
    }
  });

  test('an attacker key under a kid of the provider, and a token with no kid signed by an unknown key', async () => {
    expect(await answer(signRaw(header(rsa), claims(), 'RS256', attacker.privateKey))).toEqual(refused);
    expect(await answer(signRaw(header(rsa, { kid: undefined }), claims(), 'RS256', attacker.privateKey))).toEqual(refused);
  });

  test("kid confusion across issuers: issuer B's key, under a kid issuer A also uses, cannot sign for A", async () => {
    // B's key is listed as "a-rs" by B; a token claiming iss A is checked with A's keys only.
    expect(await answer(signRaw(header(bKey), claims(), 'RS256', bKey.privateKey))).toEqual(refused);
    // And the other way: A's key cannot sign for B.
    expect(await answer(signRaw(header(rsa), JSON.stringify(b.claims('api')), 'RS256', rsa.privateKey))).toEqual(refused);
  });

  test.each(['../../../../dev/null', "x' UNION SELECT 'k", '', '\u0000'])('kid injection: kid %j', async (kid) => {
    expect(await answer(signRaw(header(rsa, { kid }), claims(), 'RS256', rsa.privateKey))).toEqual(refused);
  });

  test('kid that is not a string, crit, b64:false', async () => {
    expect(await answer(signRaw(header(rsa, { kid: 1 }), claims(), 'RS256', rsa.privateKey))).toEqual(refused);
    expect(await answer(signRaw(header(rsa, { crit: ['exp'] }), claims(), 'RS256', rsa.privateKey))).toEqual(refused);
    expect(await answer(signRaw(header(rsa, { b64: false, crit: ['b64'] }), claims(), 'RS256', rsa.privateKey))).toEqual(refused);
  });

  test('duplicate members: an iss of a trusted issuer then another, and a duplicate alg in the header', async () => {
    const payload = claims().replace('{', `{"iss":"${b.issuer}",`);
    expect(await answer(signRaw(header(rsa), payload, 'RS256', rsa.privateKey))).toEqual(refused);
    const dupHeader = `{"alg":"none",${header(rsa).slice(1)}`;
    expect(await answer(signRaw(dupHeader, claims(), 'RS256', rsa.privateKey))).toEqual(refused);
  });

  test('invalid UTF-8, a payload that is no JSON object, base64 leniency', async () => {
    const input = signRaw(header(rsa), claims(), 'RS256', rsa.privateKey);
    const badUtf8 = `${b64(header(rsa))}.${b64(Buffer.concat([Buffer.from(claims().slice(0, -1)), Buffer.from(',"x":"\xff"}', 'latin1')]))}`;
    expect(await answer(`${badUtf8}.${input.split('.')[2]}`)).toEqual(refused);
    expect(await answer(signRaw(header(rsa), '[1]', 'RS256', rsa.privateKey))).toEqual(refused);
    expect(await answer(`${input}=`)).toEqual(refused);
    const [h, p, s] = input.split('.');
    // The standard alphabet's + and / (or a space where the signature has neither) are not base64url.
    const bent = s!.includes('-') ? s!.replace('-', '+') : s!.includes('_') ? s!.replace('_', '/') : ` ${s}`;
    expect(await answer(`${h}.${p}.${bent}`)).toEqual(refused);
  });

  test('an oversized token is refused before anything is parsed', async () => {
    expect(await answer(signRaw(header(rsa), claims({ pad: 'x'.repeat(10_000) }), 'RS256', rsa.privateKey))).toEqual(refused);
  });

  test('wrong iss and aud, expired, and a bent exp', async () => {
    expect(await answer(signRaw(header(rsa), claims({ aud: 'other' }), 'RS256', rsa.privateKey))).toEqual(refused);
    expect(await answer(signRaw(header(rsa), claims({ iss: 'https://evil.example' }), 'RS256', rsa.privateKey))).toEqual(refused);
    const now = Math.floor(Date.now() / 1000);
    expect(await answer(signRaw(header(rsa), claims({ iat: now - 100, exp: now - 10 }), 'RS256', rsa.privateKey))).toEqual({
      status: 401,
      code: 'token_expired',
    });
    for (const exp of ['9999999999', 1e308, -1, null]) {
      expect(await answer(signRaw(header(rsa), claims({ exp }), 'RS256', rsa.privateKey))).toEqual(refused);
    }
  });

  test('a token from each issuer still passes after all this (no state was poisoned)', async () => {
    expect(await answer(signRaw(header(rsa), claims(), 'RS256', rsa.privateKey))).toEqual({ status: 200 });
    expect(await answer(await b.sign(b.claims('api'), bKey))).toEqual({ status: 200 });
  });
});
