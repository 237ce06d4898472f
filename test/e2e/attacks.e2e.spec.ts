// One test per class of shared/security/jwt-attacks.md that applies to a
// verifier: each is a 401 with the right code, never a 500.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import request from 'supertest';
import { AuthService } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { accessClaims as claims, accessHeader as header, b64url as b64, forgeToken, nowSeconds as now, signText as hs } from '../support/tokens.js';

// Cold: every token meets the strict verifier. Warm: before each refused token, a valid token of the
// same app (and, where the forgery derives from one, that very token) has passed and sits in the
// verified-token cache, so a refusal here shows the cache never answers for a token the verifier refuses.
describe.each(['cold', 'warm'] as const)('the attack catalogue against a running app (verified-token cache %s)', (cache) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let hsApp: INestApplication;
  let rsApp: INestApplication;
  let esApp: INestApplication;

  beforeAll(async () => {
    hsApp = await bootApp({ jwt: { secret: SECRET, issuer: 'https://iss.test', audience: 'api' } }, { controllers: ALL_CONTROLLERS });
    rsApp = await bootApp(
      { jwt: { algorithms: ['RS256'], keys: [{ kid: 'rs-1', algorithm: 'RS256', privateKey: rsa.privateKey }] } },
      { controllers: ALL_CONTROLLERS },
    );
    esApp = await bootApp({ jwt: { algorithms: ['ES256'], privateKey: ec.privateKey } }, { controllers: ALL_CONTROLLERS });
  });
  afterAll(async () => {
    await Promise.all([hsApp, rsApp, esApp].map((a) => a.close()));
  });

  const iss = { iss: 'https://iss.test', aud: 'api' };
  /** A valid token of each app, fresh each call. */
  const validFor = (app: INestApplication) =>
    app === rsApp
      ? forgeToken({ alg: 'RS256', typ: 'at+jwt', kid: 'rs-1' }, claims(), rsa.privateKey)
      : app === esApp
        ? forgeToken({ alg: 'ES256', typ: 'at+jwt' }, claims(), ec.privateKey)
        : forgeToken(header(), claims(iss));
  /** Warm only: `token` (valid) passes and so enters the cache. */
  async function warm(app: INestApplication, token: string) {
    if (cache === 'cold') return;
    const res = await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    // A second time: now a cache hit.
    expect((await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  }
  async function expectRefused(app: INestApplication, token: string, code = 'token_invalid') {
    await warm(app, validFor(app));
    const res = await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`);
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code });
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  }

  test('control: a well-formed token signed the same way passes (so the refusals below are the checks, not the harness)', async () => {
    const res = await request(hsApp.getHttpServer())
      .get('/private')
      .set('Authorization', `Bearer ${forgeToken(header(), claims(iss))}`);
    expect(res.status).toBe(200);
    const rs = forgeToken({ alg: 'RS256', typ: 'at+jwt', kid: 'rs-1' }, claims(), rsa.privateKey);
    expect((await request(rsApp.getHttpServer()).get('/private').set('Authorization', `Bearer ${rs}`)).status).toBe(200);
    const es = forgeToken({ alg: 'ES256', typ: 'at+jwt' }, claims(), ec.privateKey);
    expect((await request(esApp.getHttpServer()).get('/private').set('Authorization', `Bearer ${es}`)).status).toBe(200);
  });

  test.each(['none', 'None', 'NONE', 'nOnE'])('alg %s is refused', async (alg) => {
    await expectRefused(hsApp, `${b64(JSON.stringify(header({ alg })))}.${b64(JSON.stringify(claims(iss)))}.`);
  });

  test('alg none with a non-empty signature (2.2)', async () => {
    await expectRefused(hsApp, `${b64(JSON.stringify(header({ alg: 'none' })))}.${b64(JSON.stringify(claims(iss)))}.AAAA`);
  });

  test('wrong number of segments, JWE-shaped and detached payloads (2.4, 2.21, 2.35)', async () => {
    const token = forgeToken(header(), claims(iss));
    await warm(hsApp, token);
    const [h, p, s] = token.split('.');
    for (const bad of [`${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.${s}.${s}`, `${h}..${s}`, `.${p}.${s}`, `${h}.${p}.${s}.`, '..', '....']) {
      await expectRefused(hsApp, bad);
    }
    const jweHeader = b64(JSON.stringify({ alg: 'dir', enc: 'A256GCM', typ: 'at+jwt' }));
    await expectRefused(hsApp, `${jweHeader}..${b64('iv-iv-iv-iv')}.${p}.${b64('tag-tag-tag-tag')}`);
  });

  test('algorithm confusion: HS256 with the RSA public key as the HMAC secret', async () => {
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    await expectRefused(rsApp, hs(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: 'rs-1' }), JSON.stringify(claims()), pem));
    await expectRefused(rsApp, hs(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' }), JSON.stringify(claims()), pem));
  });

  test('another algorithm with the same RSA key (PS256 token for an RS256 key)', async () => {
    const input = `${b64(JSON.stringify({ alg: 'PS256', typ: 'at+jwt', kid: 'rs-1' }))}.${b64(JSON.stringify(claims()))}`;
    const sig = cryptoSign('sha256', Buffer.from(input), { key: rsa.privateKey, padding: 6, saltLength: 32 });
    await expectRefused(rsApp, `${input}.${sig.toString('base64url')}`);
  });

  test('psychic signature: ECDSA r = s = 0', async () => {
    const input = `${b64(JSON.stringify({ alg: 'ES256', typ: 'at+jwt' }))}.${b64(JSON.stringify(claims()))}`;
    await expectRefused(esApp, `${input}.${b64(Buffer.alloc(64))}`);
  });

  test('ECDSA signature in DER instead of R||S', async () => {
    await expectRefused(esApp, forgeToken({ alg: 'ES256', typ: 'at+jwt' }, claims(), ec.privateKey, 'der'));
  });

  test('empty signature', async () => {
    const token = forgeToken(header(), claims(iss));
    await warm(hsApp, token);
    await expectRefused(hsApp, token.slice(0, token.lastIndexOf('.') + 1));
  });

  test('embedded keys: jwk, jku, x5u, x5c in the header are never used', async () => {
    const jwk = attacker.publicKey.export({ format: 'jwk' });
    for (const extra of [{ jwk }, { jku: 'https://evil.test/jwks.json' }, { x5u: 'https://evil.test/cert.pem' }, { x5c: ['MIIB'] }]) {
      await expectRefused(rsApp, forgeToken({ alg: 'RS256', typ: 'at+jwt', ...extra }, claims(), attacker.privateKey));
      await expectRefused(rsApp, forgeToken({ alg: 'RS256', typ: 'at+jwt', kid: 'rs-1', ...extra }, claims(), attacker.privateKey));
    }
  });

  test.each(['../../../../dev/null', "x' UNION SELECT 'secret", '', 'rs-2', '\u0000'])('kid injection: kid %j', async (kid) => {
    await expectRefused(rsApp, hs(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid }), JSON.stringify(claims()), ''));
    await expectRefused(rsApp, forgeToken({ alg: 'RS256', typ: 'at+jwt', kid }, claims(), attacker.privateKey));
  });

  test('kid that is not a string', async () => {
    await expectRefused(rsApp, forgeToken({ alg: 'RS256', typ: 'at+jwt', kid: ['rs-1'] }, claims(), rsa.privateKey));
  });

  test('crit: an unknown critical extension, and crit naming a registered header', async () => {
    await expectRefused(hsApp, forgeToken(header({ crit: ['exp'], exp: 1 }), claims(iss)));
    await expectRefused(hsApp, forgeToken(header({ crit: ['http://example.invalid/ext'] }), claims(iss)));
  });

  test('b64: false (RFC 7797), with and without crit', async () => {
    await expectRefused(hsApp, forgeToken(header({ b64: false, crit: ['b64'] }), claims(iss)));
    await expectRefused(hsApp, forgeToken(header({ b64: false }), claims(iss)));
  });

  test('duplicate members in the payload and in the header', async () => {
    const c = claims(iss);
    await expectRefused(hsApp, hs(JSON.stringify(header()), `{"sub":"2",${JSON.stringify(c).slice(1)}`));
    await expectRefused(hsApp, hs(`{"alg":"HS256","typ":"JWT","typ":"at+jwt"}`, JSON.stringify(c)));
    await expectRefused(hsApp, hs(JSON.stringify(header()), JSON.stringify({ ...c, nested: { a: 1 } }).replace('"a":1', '"a":1,"a":2')));
  });

  test('invalid UTF-8 in the payload and in the header', async () => {
    const c = Buffer.from(JSON.stringify(claims({ ...iss, username: 'XX' })));
    c[c.indexOf('XX')] = 0xff;
    await expectRefused(hsApp, hs(JSON.stringify(header()), c));
    const h = Buffer.from(JSON.stringify(header({ kid: 'XX' })));
    h[h.indexOf('XX')] = 0xc3;
    await expectRefused(hsApp, hs(h, JSON.stringify(claims(iss))));
  });

  test('base64 leniency: padding, spaces, +/ and non-canonical trailing bits', async () => {
    const token = forgeToken(header(), claims(iss));
    await warm(hsApp, token);
    const [h, p, s] = token.split('.');
    await expectRefused(hsApp, `${h}=.${p}.${s}`);
    await expectRefused(hsApp, `${h}.${p}.${s}=`);
    await expectRefused(hsApp, `${h}.${p}.+${s.slice(1)}`);
    await expectRefused(hsApp, `${h}.${p}./${s.slice(1)}`);
    await expectRefused(hsApp, `${h}.${p} .${s}`);
    // Change the last character's unused low bits: same bytes, a second encoding.
    const last = s[s.length - 1];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = alphabet[alphabet.indexOf(last) ^ 1];
    expect(Buffer.from(s.slice(0, -1) + twin, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    await expectRefused(hsApp, `${h}.${p}.${s.slice(0, -1)}${twin}`);
  });

  test('missing, non-numeric, non-finite and absurd exp', async () => {
    const { exp: _e, ...noExp } = claims(iss);
    await expectRefused(hsApp, forgeToken(header(), noExp));
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, exp: String(now() + 60) })));
    await expectRefused(hsApp, hs(JSON.stringify(header()), JSON.stringify(claims(iss)).replace(/"exp":\d+/, '"exp":1e400')));
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, exp: now() + 10 * 365 * 86400 })));
  });

  test('expired is token_expired; future iat and nbf are token_invalid', async () => {
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, iat: now() - 120, exp: now() - 60 })), 'token_expired');
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, iat: now() + 600, exp: now() + 900 })));
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, nbf: now() + 600 })));
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, iat: 'yesterday' })));
  });

  test('missing jti or sub, and non-string sub', async () => {
    const { jti: _j, ...noJti } = claims(iss);
    const { sub: _s, ...noSub } = claims(iss);
    await expectRefused(hsApp, forgeToken(header(), noJti));
    await expectRefused(hsApp, forgeToken(header(), noSub));
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, sub: 1 })));
  });

  test.each(['123', '[]', '"a string"', 'null', 'true', ''])('payload %j that is not a JSON object', async (payload) => {
    await expectRefused(hsApp, hs(JSON.stringify(header()), payload));
  });

  test('oversized token and deeply nested payload: refused before they cost anything', async () => {
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, pad: 'x'.repeat(9000) })));
    await expectRefused(
      hsApp,
      hs(JSON.stringify(header()), JSON.stringify(claims(iss)).replace('}', `,"deep":${'['.repeat(2000)}${']'.repeat(2000)}}`)),
    );
  });

  test('token-type confusion: a refresh token, typ JWT and no typ are not access tokens', async () => {
    await expectRefused(hsApp, forgeToken(header({ typ: 'refresh+jwt' }), claims(iss)));
    await expectRefused(hsApp, forgeToken(header({ typ: 'JWT' }), claims(iss)));
    await expectRefused(hsApp, forgeToken({ alg: 'HS256' }, claims(iss)));
  });

  test('iss and aud: wrong or missing when configured', async () => {
    await expectRefused(hsApp, forgeToken(header(), claims({ iss: 'https://evil.test', aud: 'api' })));
    await expectRefused(hsApp, forgeToken(header(), claims({ aud: 'api' })));
    await expectRefused(hsApp, forgeToken(header(), claims({ iss: 'https://iss.test', aud: 'other' })));
    await expectRefused(hsApp, forgeToken(header(), claims({ iss: 'https://iss.test' })));
    const ok = await request(hsApp.getHttpServer())
      .get('/private')
      .set('Authorization', `Bearer ${forgeToken(header(), claims({ iss: 'https://iss.test', aud: ['x', 'api'] }))}`);
    expect(ok.status).toBe(200);
  });

  test('clock skew: no leeway by default; with clockTolerance, exactly that much', async () => {
    await expectRefused(hsApp, forgeToken(header(), claims({ ...iss, iat: now() - 60, exp: now() - 1 })), 'token_expired');
    const lenient = await bootApp({ jwt: { secret: SECRET, clockTolerance: 30 } }, { controllers: ALL_CONTROLLERS });
    try {
      const within = forgeToken(header(), claims({ iat: now() - 60, exp: now() - 10 }));
      expect((await request(lenient.getHttpServer()).get('/private').set('Authorization', `Bearer ${within}`)).status).toBe(200);
      await expectRefused(lenient, forgeToken(header(), claims({ iat: now() - 120, exp: now() - 60 })), 'token_expired');
      const early = forgeToken(header(), claims({ iat: now() + 10, exp: now() + 60 }));
      expect((await request(lenient.getHttpServer()).get('/private').set('Authorization', `Bearer ${early}`)).status).toBe(200);
      await expectRefused(lenient, forgeToken(header(), claims({ iat: now() + 120, exp: now() + 180 })));
    } finally {
      await lenient.close();
    }
  });

  test('revocation cannot be bypassed by re-encoding: a malleated ECDSA signature of a revoked token is still refused (2.10, 2.37)', async () => {
    const token = await esApp.get(AuthService).createToken({ sub: 'm' });
    await warm(esApp, token);
    await esApp.get(AuthService).revokeToken(token);
    // Revocation is checked on every request, cache hit or not.
    const again = await request(esApp.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`);
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 401, code: 'token_revoked' });
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s, 'base64url');
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    const sValue = BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const malleated = Buffer.concat([sig.subarray(0, 32), Buffer.from((n - sValue).toString(16).padStart(64, '0'), 'hex')]);
    const twin = `${h}.${p}.${malleated.toString('base64url')}`;
    const res = await request(esApp.getHttpServer()).get('/private').set('Authorization', `Bearer ${twin}`);
    expect(res.status).toBe(401);
    expect(['token_revoked', 'token_invalid']).toContain(res.body.code);
  });

  test('a token from the app itself still passes after all this (no state was poisoned)', async () => {
    const token = await hsApp.get(AuthService).createToken({ sub: '5' });
    expect((await request(hsApp.getHttpServer()).get('/private').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });
});
