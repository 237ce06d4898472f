// One SHA-256 of a token per request, whichever cache answers: the guard asks the module's own verified-token
// cache first, and for a provider's token the trusted issuers' cache next (and keeps the verification there after
// a miss). Both find a token by a digest of it; computed by each, a provider's token was hashed three times on a
// miss and twice on every hit. node:crypto's one-shot `hash` is wrapped to count the digests of the token sent.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';

const crypto = await import('node:crypto');
const digests = new Map<string, number>();
jest.unstable_mockModule('node:crypto', () => ({
  ...crypto,
  default: crypto,
  hash: (algorithm: string, data: unknown, encoding?: string) => {
    if (algorithm === 'sha256' && typeof data === 'string') digests.set(data, (digests.get(data) ?? 0) + 1);
    return (crypto.hash as (a: string, d: unknown, e?: string) => unknown)(algorithm, data, encoding);
  },
}));

const request = (await import('supertest')).default;
const { TestClock } = await import('../../src/testing/index.js');
const { ADAPTERS, bootApp, SECRET } = await import('../support/app.js');
const { ALL_CONTROLLERS } = await import('../support/controllers.js');
const { JwksServer } = await import('./support/jwks-server.js');
const { AuthService } = await import('../../src/index.js');
type App = Awaited<ReturnType<typeof bootApp>>;

describe.each(ADAPTERS)('one digest of a token per request on %s', (adapter) => {
  const clock = new TestClock();
  const provider = new JwksServer('/realms/one-digest');
  let app: App;
  const now = () => Math.floor(clock.now() / 1000);
  /** Digests of `token` taken while one request to `path` was answered, with its status. */
  const digestsFor = async (token: string, path = '/context'): Promise<{ status: number; count: number }> => {
    digests.set(token, 0);
    const res = await request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);
    return { status: res.status, count: digests.get(token) ?? 0 };
  };

  beforeAll(async () => {
    await provider.start();
    provider.addKey('RS256');
    app = await bootApp(
      { jwt: { secret: SECRET }, clock, trustedIssuers: [{ issuer: provider.issuer, audience: 'api' }] },
      { adapter, controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    await provider.close();
  });

  // Two tokens taking turns: the digest of the last token is remembered, so the same token twice in a row is not
  // hashed again at all; taking turns, each request has to hash its own.
  test("a provider's token: hashed once on its first request (both caches missed) and once on each later one", async () => {
    const a = await provider.sign(provider.claims('api', { sub: 'user-a' }, now()));
    const b = await provider.sign(provider.claims('api', { sub: 'user-b' }, now()));
    for (let round = 0; round < 3; round++) {
      expect(await digestsFor(a)).toEqual({ status: 200, count: 1 });
      expect(await digestsFor(b)).toEqual({ status: 200, count: 1 });
    }
  });

  test("the module's own token: hashed once on a miss and once on a hit", async () => {
    const a = await app.get(AuthService).createToken({ sub: 'own-a', username: 'a' });
    const b = await app.get(AuthService).createToken({ sub: 'own-b', username: 'b' });
    for (let round = 0; round < 2; round++) {
      expect(await digestsFor(a)).toEqual({ status: 200, count: 1 });
      expect(await digestsFor(b)).toEqual({ status: 200, count: 1 });
    }
  });

  test('a token refused by both verifiers is hashed once too (and is a 401 with its code)', async () => {
    const forged = `${(await provider.sign(provider.claims('api', {}, now()))).slice(0, -4)}AAAA`;
    const res = await digestsFor(forged);
    expect(res).toEqual({ status: 401, count: 1 });
  });
});
