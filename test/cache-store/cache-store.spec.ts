import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Body, Controller, HttpCode, Param, Post, type INestApplication } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { createKeyv } from '@keyv/redis';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuthModule, AuthService, type AuthModuleForRootOptions } from '../../src/index.js';
import { ADAPTERS, SECRET, bootApp, initError, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, uniqueTestName } from '../support/databases.js';
import { bearer, login } from '../support/http.js';
import { needs, serviceUrl } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { MemoryUsers } from '../support/users.js';

/** Revocation by the app's own code (an admin action, a job): the service, called from a route. */
@Controller('admin-revoke')
class RevokeController {
  constructor(private readonly auth: AuthService) {}

  @Post('token')
  @HttpCode(204)
  async token(@Body('token') token: string) {
    await this.auth.revokeToken(token);
  }

  @Post('user/:id')
  @HttpCode(204)
  async user(@Param('id') id: string) {
    await this.auth.revokeAllForUser(id);
  }
}

const CONTROLLERS = [...ALL_CONTROLLERS, RevokeController];

type Keyv = ReturnType<typeof createKeyv>;

interface Booted {
  app: INestApplication;
  keyvs: Keyv[];
}

/** A real app on `store: 'cache'`, its CacheModule in memory or on Redis at `redisUrl`. */
async function boot(
  adapter: Adapter,
  cache: { redisUrl?: string; keyPrefix?: string },
  extra: Partial<AuthModuleForRootOptions> = {},
): Promise<Booted> {
  const keyvs: Keyv[] = [];
  const stores = cache.redisUrl ? [createKeyv(cache.redisUrl)] : undefined;
  if (stores) keyvs.push(...stores);
  const users = await MemoryUsers.create();
  const app = await bootApp(
    {
      jwt: { secret: SECRET },
      users,
      store: cache.keyPrefix === undefined ? 'cache' : { type: 'cache', keyPrefix: cache.keyPrefix },
      loginThrottle: false,
      ...extra,
    },
    { adapter, controllers: CONTROLLERS, imports: [CacheModule.register(stores ? { stores } : {})] },
  );
  return { app, keyvs };
}

async function close({ app, keyvs }: Booted): Promise<void> {
  await app.close();
  for (const keyv of keyvs) await keyv.disconnect().catch(() => undefined);
}

const get = (app: INestApplication, token: string) => request(app.getHttpServer()).get('/private').set(bearer(token));
const post = (app: INestApplication, path: string, token: string) => request(app.getHttpServer()).post(path).set(bearer(token));
const jtiOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The flows every instance of this store must pass; `other` is a second instance sharing the cache (or the same). */
function flows(name: string, make: (adapter: Adapter) => Promise<{ one: Booted; other: Booted; done: () => Promise<void> }>) {
  describe.each(ADAPTERS)(`${name} (%s)`, (adapter) => {
    let one: Booted;
    let other: Booted;
    let done: () => Promise<void>;
    beforeAll(async () => {
      ({ one, other, done } = await make(adapter));
    });
    afterAll(async () => done?.());

    test('logout: the access token is refused, here and on the other instance', async () => {
      const pair = await login(one.app);
      expect((await get(other.app, pair.accessToken)).status).toBe(200);
      expect((await post(one.app, '/auth/logout', pair.accessToken)).status).toBe(204);
      for (const app of [one.app, other.app]) {
        const res = await get(app, pair.accessToken);
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('token_revoked');
      }
      // The ended session refuses its refresh token too.
      const refreshed = await request(one.app.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken });
      expect(refreshed.status).toBe(401);
    });

    test('revokeToken: refused on both instances; another token of the user still passes', async () => {
      const pair = await login(one.app);
      const kept = await login(one.app);
      expect((await post(other.app, '/admin-revoke/token', kept.accessToken).send({ token: pair.accessToken })).status).toBe(204);
      for (const app of [one.app, other.app]) {
        expect((await get(app, pair.accessToken)).body.code).toBe('token_revoked');
        expect((await get(app, kept.accessToken)).status).toBe(200);
      }
    });

    test('revokeAllForUser: the cut-off refuses every earlier token of the user on both instances, not other users', async () => {
      const alice = await login(one.app, 'alice');
      const bob = await login(one.app, 'bob');
      // Tokens carry whole seconds: a cut-off in the same second as `iat` would refuse a later login too.
      await sleep(1100);
      expect((await post(other.app, '/auth/logout-all', alice.accessToken)).status).toBe(204);
      for (const app of [one.app, other.app]) {
        expect((await get(app, alice.accessToken)).status).toBe(401);
        expect((await get(app, bob.accessToken)).status).toBe(200);
      }
      await sleep(1100);
      const again = await login(other.app, 'alice');
      expect((await get(one.app, again.accessToken)).status).toBe(200);
    });
  });
}

flows('store: cache on CacheModule in memory, one instance', async (adapter) => {
  const one = await boot(adapter, {});
  return { one, other: one, done: () => close(one) };
});

const redisUrl = serviceUrl('redis');

if (needs('the Redis cache store', 'redis')) {
  flows('store: cache on Redis (@keyv/redis), two instances', async (adapter) => {
    const keyPrefix = `${uniqueTestName('na')}:`;
    const one = await boot(adapter, { redisUrl, keyPrefix });
    const other = await boot(adapter, { redisUrl, keyPrefix });
    return { one, other, done: async () => (await close(one), await close(other)) };
  });

  describe('store: cache on Redis: keyPrefix, expiry, a hung Redis', () => {
    test('keyPrefix: apps with different prefixes on one Redis do not share revocations', async () => {
      const a = await boot('express', { redisUrl, keyPrefix: `${uniqueTestName('na')}:` });
      const b = await boot('express', { redisUrl, keyPrefix: `${uniqueTestName('nb')}:` });
      try {
        const pair = await login(a.app);
        expect((await post(a.app, '/auth/logout', pair.accessToken)).status).toBe(204);
        expect((await get(a.app, pair.accessToken)).status).toBe(401);
        // b shares the secret and Redis but not the prefix: the revocation is not its own.
        expect((await get(b.app, pair.accessToken)).status).toBe(200);
      } finally {
        await close(a);
        await close(b);
      }
    });

    test('entries expire with the token', async () => {
      const keyPrefix = `${uniqueTestName('na')}:`;
      const booted = await boot('express', { redisUrl, keyPrefix });
      try {
        const auth = booted.app.get(AuthService);
        const token = await auth.createToken({ sub: '1' }, { expiresIn: 1 });
        await auth.revokeToken(token);
        const jti = jtiOf(token);
        const keyv = booted.keyvs[0]!;
        expect(await keyv.get(`${keyPrefix}jti:${jti}`)).toBeDefined();
        // Real time on purpose: the entry lives until the token's exp (a whole second, 1 to 2 s away), then must be gone.
        await sleep(2300);
        expect(await keyv.get(`${keyPrefix}jti:${jti}`)).toBeUndefined();
      } finally {
        await close(booted);
      }
    });

    test.each(ADAPTERS)('Redis hung: 503 auth_unavailable within storeTimeoutMs, and back once it answers (%s)', async (adapter) => {
      const proxy = await new TcpProxy(Number(new URL(redisUrl!).port || 6379), new URL(redisUrl!).hostname).start();
      const booted = await boot(
        adapter,
        { redisUrl: proxy.url(redisUrl!), keyPrefix: `${uniqueTestName('na')}:` },
        { revocation: { storeTimeoutMs: 300 } },
      );
      try {
        const pair = await login(booted.app);
        expect((await get(booted.app, pair.accessToken)).status).toBe(200);
        proxy.blackhole();
        // No timing assertion (the machine is shared): a hung read that were not bounded would hang this test.
        const refused = await get(booted.app, pair.accessToken);
        expect(refused.status).toBe(503);
        expect(refused.body.code).toBe('auth_unavailable');
        const logout = await post(booted.app, '/auth/logout', pair.accessToken);
        expect(logout.status).toBe(503);
        proxy.forward();
        // What the refused logout had queued may land now: a new login proves the cache answers again.
        const fresh = await login(booted.app);
        expect((await get(booted.app, fresh.accessToken)).status).toBe(200);
        // Redis refusing connections (not hung): still 503, never a pass on a read that found nothing.
        proxy.refuse(true);
        proxy.reset();
        const down = await get(booted.app, fresh.accessToken);
        expect(down.status).toBe(503);
        expect(down.body.code).toBe('auth_unavailable');
      } finally {
        proxy.forward();
        // The client closes cleanly only once it has reconnected (a queued command settles then).
        await booted.keyvs[0]!.get('reconnected').catch(() => undefined);
        await close(booted);
        await proxy.stop();
      }
    });
  });
}

describe("store: { type: 'cache', sessions: 'typeorm' }: sessions in the database, revocations in the cache", () => {
  test('logout ends the session row (one write: the shared row refuses its tokens everywhere); the token is refused on every instance', async () => {
    const target = enabledDatabases({ quiet: true }).find((t) => t.name === 'sqlite')!;
    const users = await MemoryUsers.create();
    const boot = () =>
      bootApp(
        { jwt: { secret: SECRET }, users, store: { type: 'cache', sessions: 'typeorm', dataSource: 'default' }, loginThrottle: false },
        {
          controllers: CONTROLLERS,
          imports: [CacheModule.register(), TypeOrmModule.forRoot({ ...target.options(), migrationsRun: true } as TypeOrmModuleOptions)],
        },
      );
    const app = await boot();
    // Another instance on the same database, with a cache of its own: it learns the logout from the session row alone.
    const other = await boot();
    try {
      const pair = await login(app);
      expect((await get(other, pair.accessToken)).status).toBe(200);
      expect((await post(app, '/auth/logout', pair.accessToken)).status).toBe(204);
      expect((await get(app, pair.accessToken)).body.code).toBe('token_revoked');
      expect((await get(other, pair.accessToken)).body.code).toBe('token_revoked');
      const ds = app.get(DataSource);
      const rows = (await ds.query('SELECT ended_at FROM auth_sessions')) as Array<{ ended_at: unknown }>;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.ended_at).not.toBeNull();
      // The jti goes to the cache only for a token with no live session to end (revokeToken, a session-less logout).
      const cache = app.get<{ stores: Array<{ get(k: string): Promise<unknown> }> }>(CACHE_MANAGER);
      expect(await cache.stores[0]!.get(`nest-auth:jti:${jtiOf(pair.accessToken)}`)).toBeUndefined();
    } finally {
      await other.close();
      await app.close();
    }
  });
});

describe('store: cache, configuration', () => {
  test('entries expire with the token (CacheModule in memory), under the default prefix', async () => {
    const booted = await boot('express', {});
    try {
      const auth = booted.app.get(AuthService);
      const token = await auth.createToken({ sub: '1' }, { expiresIn: 1 });
      await auth.revokeToken(token);
      const jti = jtiOf(token);
      const cache = booted.app.get<{ stores: Array<{ get(k: string): Promise<unknown> }> }>(CACHE_MANAGER);
      expect(await cache.stores[0]!.get(`nest-auth:jti:${jti}`)).toBeDefined();
      // Real time on purpose: the entry lives until the token's exp (a whole second, 1 to 2 s away), then must be gone.
      await sleep(2300);
      expect(await cache.stores[0]!.get(`nest-auth:jti:${jti}`)).toBeUndefined();
    } finally {
      await close(booted);
    }
  });

  test("consistency 'cached' is refused at boot, naming the option (a cache keeps no change log)", async () => {
    const err = await initError([
      CacheModule.register(),
      AuthModule.forRoot({ jwt: { secret: SECRET }, store: 'cache', revocation: { consistency: 'cached' } }),
    ]);
    expect(err?.message).toMatch(/revocation\.consistency/);
  });

  test('no CacheModule in the app: the boot fails naming store', async () => {
    const err = await initError([AuthModule.forRoot({ jwt: { secret: SECRET }, store: 'cache' })]);
    expect(err?.message).toMatch(/store.*CACHE_MANAGER|CACHE_MANAGER.*store/s);
  });

  test('a wrong sessions value is refused at boot', async () => {
    const err = await initError([
      CacheModule.register(),
      AuthModule.forRoot({ jwt: { secret: SECRET }, store: { type: 'cache', sessions: 'redis' as never } }),
    ]);
    expect(err?.message).toMatch(/store\.sessions/);
  });
});
