import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import request from 'supertest';
import { AuthModule, AuthService, type AuthModuleOptions, type JwsAlgorithm } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');

describe('interop with jose, both ways', () => {
  const cases: Array<[JwsAlgorithm, AuthModuleOptions['jwt'], KeyObject | Uint8Array, KeyObject | Uint8Array]> = [
    ['HS256', { secret: SECRET }, new TextEncoder().encode(SECRET), new TextEncoder().encode(SECRET)],
    ['RS256', { algorithms: ['RS256'], privateKey: rsa.privateKey }, rsa.publicKey, rsa.privateKey],
    ['ES256', { algorithms: ['ES256'], privateKey: ec.privateKey }, ec.publicKey, ec.privateKey],
    ['EdDSA', { algorithms: ['EdDSA'], privateKey: ed.privateKey }, ed.publicKey, ed.privateKey],
  ];
  test.each(cases)('%s', async (alg, jwt, verifyKey, signKey) => {
    const app = await bootApp({ jwt }, { controllers: ALL_CONTROLLERS });
    try {
      const token = await app.get(AuthService).createToken({ sub: 'interop' });
      const { payload, protectedHeader } = await jwtVerify(token, verifyKey, { algorithms: [alg], typ: 'at+jwt' });
      expect(payload.sub).toBe('interop');
      expect(protectedHeader.alg).toBe(alg);

      const now = Math.floor(Date.now() / 1000);
      const fromJose = await new SignJWT({ sub: 'jose', jti: 'j-1', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg, typ: 'at+jwt' })
        .sign(signKey);
      const res = await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${fromJose}`);
      expect(res.status).toBe(200);
      expect(res.body.user.id).toBe('jose');
    } finally {
      await app.close();
    }
  });
});

describe('key ring and JWKS', () => {
  let app: INestApplication;
  let port: number;
  beforeAll(async () => {
    app = await bootApp(
      {
        jwt: {
          algorithms: ['RS256', 'EdDSA', 'HS256'],
          keys: [
            { kid: 'rs-2026', algorithm: 'RS256', privateKey: rsa.privateKey },
            { kid: 'ed-1', algorithm: 'EdDSA', privateKey: ed.privateKey },
            { kid: 'hs-legacy', algorithm: 'HS256', secret: SECRET },
          ],
        },
        jwksRoute: true,
      },
      { controllers: ALL_CONTROLLERS },
    );
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(() => app.close());

  test('signs with the first key, with its kid', async () => {
    const token = await app.get(AuthService).createToken({ sub: 'k' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'rs-2026' });
  });

  test('getJwks() and the route publish the public keys with kid, alg and use, never the HMAC secret', async () => {
    const jwks = app.get(AuthService).getJwks();
    expect(jwks.keys.map((k) => [k.kid, k.alg, k.use])).toEqual([
      ['rs-2026', 'RS256', 'sig'],
      ['ed-1', 'EdDSA', 'sig'],
    ]);
    expect(JSON.stringify(jwks)).not.toMatch(/"d"|"k"|"p"|"q"/);
    const res = await request(app.getHttpServer()).get('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(jwks);
  });

  test("a real consumer, jose's createRemoteJWKSet, verifies a token the module issued", async () => {
    const token = await app.get(AuthService).createToken({ sub: 'remote' });
    const keySet = createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, keySet, { algorithms: ['RS256'], typ: 'at+jwt' });
    expect(payload.sub).toBe('remote');
  });

  test('rotation: a new key first, the old one still verifies its tokens', async () => {
    const old = await bootApp({ jwt: { algorithms: ['RS256'], keys: [{ kid: 'old', algorithm: 'RS256', privateKey: rsa2.privateKey }] } });
    const rotated = await bootApp(
      {
        jwt: {
          algorithms: ['RS256'],
          keys: [
            { kid: 'new', algorithm: 'RS256', privateKey: rsa.privateKey },
            { kid: 'old', algorithm: 'RS256', publicKey: rsa2.publicKey },
          ],
        },
      },
      { controllers: ALL_CONTROLLERS },
    );
    try {
      const oldToken = await old.get(AuthService).createToken({ sub: 'before' });
      const newToken = await rotated.get(AuthService).createToken({ sub: 'after' });
      expect(decodeProtectedHeader(newToken).kid).toBe('new');
      for (const token of [oldToken, newToken]) {
        expect((await request(rotated.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      }
    } finally {
      await old.close();
      await rotated.close();
    }
  });
});

describe('key checks at boot name the option', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const wycheproofE1 = JSON.parse(readFileSync(join(here, '../vectors/wycheproof/json_web_key_test.json'), 'utf8')).testGroups.find(
    (g: { comment: string }) => g.comment === 'exponentOne',
  ).private.keys[0];
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });

  test.each<[string, AuthModuleOptions['jwt'], RegExp]>([
    [
      'RSA under 2048 bits',
      { algorithms: ['RS256'], keys: [{ kid: 'a', algorithm: 'RS256', privateKey: weak.privateKey }] },
      /jwt\.keys\[0\]\.privateKey.*2048/,
    ],
    [
      'RSA public exponent 1',
      { algorithms: ['RS256'], keys: [{ kid: 'a', algorithm: 'RS256', publicKey: createPublicKey({ key: wycheproofE1, format: 'jwk' }) }] },
      /jwt\.keys\[0\]\.publicKey.*exponent/,
    ],
    ['EC curve that does not match', { algorithms: ['ES256'], privateKey: p384.privateKey }, /jwt\.privateKey.*prime256v1/],
    ['an RSA key for EdDSA', { algorithms: ['EdDSA'], privateKey: rsa.privateKey }, /jwt\.privateKey.*Ed25519/],
    ['HS512 with a 32-byte secret', { algorithms: ['HS512'], secret: 'x'.repeat(32) }, /jwt\.secret.*64 bytes/],
    [
      'duplicate kid',
      {
        algorithms: ['HS256'],
        keys: [
          { kid: 'a', algorithm: 'HS256', secret: SECRET },
          { kid: 'a', algorithm: 'HS256', secret: SECRET + '!' },
        ],
      },
      /duplicate kid/,
    ],
    [
      'a secret and a public key under one kid',
      { algorithms: ['HS256'], keys: [{ kid: 'a', algorithm: 'HS256', secret: SECRET, publicKey: rsa.publicKey }] },
      /jwt\.keys\[0\].*secret, not a private or public key/,
    ],
    ['a PEM given as an HMAC secret', { secret: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string }, /jwt\.secret.*PEM/],
    [
      'a private key that does not match the public key',
      { algorithms: ['RS256'], privateKey: rsa.privateKey, publicKey: rsa2.publicKey },
      /jwt\.publicKey.*match/,
    ],
  ])('%s', async (_name, jwt, message) => {
    await expect(Test.createTestingModule({ imports: [AuthModule.forRoot({ jwt })] }).compile()).rejects.toThrow(message);
  });
});
