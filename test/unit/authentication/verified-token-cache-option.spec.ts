// `jwt.verifiedTokenCacheMb` reaches the guard's cache: 0 turns it off (every request verifies the
// token), a value bounds what it holds. Real app, real HTTP; the strict verifier's calls are counted.
import 'reflect-metadata';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { TokenCodec } from '../../../src/tokens/token-codec.js';
import { bootApp, SECRET } from '../../support/app.js';
import { ALL_CONTROLLERS } from '../../support/controllers.js';
import { forgeAccessToken } from '../../support/tokens.js';

describe('jwt.verifiedTokenCacheMb', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  /** Boots with the option, sends the tokens in order, and counts how many times the strict verifier ran. */
  async function verificationsFor(verifiedTokenCacheMb: number | undefined, tokens: string[]): Promise<number> {
    app = await bootApp(
      { jwt: { secret: SECRET, ...(verifiedTokenCacheMb === undefined ? {} : { verifiedTokenCacheMb }) } },
      { controllers: ALL_CONTROLLERS },
    );
    const verify = jest.spyOn(app.get(TokenCodec), 'verify');
    const server = app.getHttpServer();
    for (const token of tokens) {
      const res = await request(server).get('/private').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
    }
    return verify.mock.calls.filter(([, kind]) => kind === 'access').length;
  }

  test('by default a token is verified once and then served from the cache', async () => {
    const token = forgeAccessToken();
    expect(await verificationsFor(undefined, [token, token, token])).toBe(1);
  });

  test('0 turns the cache off: every request runs the strict verifier', async () => {
    const token = forgeAccessToken();
    expect(await verificationsFor(0, [token, token, token])).toBe(3);
  });

  test('a small value bounds the entries held: a second pass over more users than fit verifies again', async () => {
    const users = Array.from({ length: 400 }, (_, i) => forgeAccessToken({ sub: `u${i}` }));
    const twice = [...users, ...users];
    // Default: the second pass is all hits.
    expect(await verificationsFor(undefined, twice)).toBe(400);
    await app!.close();
    app = undefined;
    // 0.02 MiB holds far fewer than 400 entries: most of the second pass verifies again.
    expect(await verificationsFor(0.02, twice)).toBeGreaterThan(400 + 200);
  });
});
