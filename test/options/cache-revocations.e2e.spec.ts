import { describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { createKeyv } from '@keyv/redis';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuthModule, AuthService, type AuthModuleOptions } from '../../src/index.js';
import { SECRET, bootApp, initError } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, uniqueTestName } from '../support/databases.js';
import { bearer, login } from '../support/http.js';
import { needs, serviceUrl } from '../support/services.js';
import { MemoryUsers } from '../support/users.js';

/**
 * The cache-backed revocation store chosen where apps choose a revocation store (`revocation.store`,
 * `stores.revocations`), not only through `store: 'cache'`: revoked ids, cut-offs and session ends go to the app's
 * CACHE_MANAGER, the sessions stay where `store` keeps them.
 */
type CacheLike = { stores: Array<{ get(key: string): Promise<unknown> }> };

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; sid: string };
const jtiOf = (token: string) => claimsOf(token).jti;
const sidOf = (token: string) => claimsOf(token).sid;
const get = (app: INestApplication, token: string) => request(app.getHttpServer()).get('/private').set(bearer(token));
const logout = (app: INestApplication, token: string) => request(app.getHttpServer()).post('/auth/logout').set(bearer(token));
const cached = (app: INestApplication, key: string) => app.get<CacheLike>(CACHE_MANAGER).stores[0]!.get(key);

async function boot(options: Partial<AuthModuleOptions>, imports: unknown[] = [CacheModule.register()]): Promise<INestApplication> {
  return bootApp(
    { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle: false, ...options },
    { controllers: ALL_CONTROLLERS, imports: imports as never[] },
  );
}

describe("revocation.store: 'cache' (sessions in this instance's memory)", () => {
  test("logout puts the session's end in the cache under the default prefix (one write: not the jti too); the token is refused, a refresh with the pair too", async () => {
    const app = await boot({ revocation: { store: 'cache' } });
    try {
      const pair = await login(app);
      expect((await get(app, pair.accessToken)).status).toBe(200);
      expect((await logout(app, pair.accessToken)).status).toBe(204);
      const refused = await get(app, pair.accessToken);
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('token_revoked');
      expect(await cached(app, `nest-auth:ses:${sidOf(pair.accessToken)}`)).toBeDefined();
      expect(await cached(app, `nest-auth:jti:${jtiOf(pair.accessToken)}`)).toBeUndefined();
      const refreshed = await request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken });
      expect(refreshed.status).toBe(401);
    } finally {
      await app.close();
    }
  });

  test("consistency 'cached' is refused at boot, naming revocation.consistency and where the cache was chosen", async () => {
    const err = await initError([
      CacheModule.register(),
      AuthModule.forRoot({ jwt: { secret: SECRET }, revocation: { store: 'cache', consistency: 'cached' } }),
    ]);
    expect(err?.message).toBe(
      `AuthModule option "revocation.consistency": 'cached' needs a change log, which revocation.store: 'cache' cannot keep: leave it unset ('strict')`,
    );
  });

  test('a misspelt store value is refused at boot, naming the option and what it takes', async () => {
    const err = await initError([AuthModule.forRoot({ jwt: { secret: SECRET }, revocation: { store: 'cach' as never } })]);
    expect(err?.message).toBe(
      `AuthModule option "revocation.store": must implement RevocationStore (revoke, isRevoked, purgeExpired), or be 'cache'`,
    );
  });

  test('no CacheModule in the app: the boot fails and says what is missing', async () => {
    const err = await initError([AuthModule.forRoot({ jwt: { secret: SECRET }, revocation: { store: 'cache' } })]);
    expect(err?.message).toMatch(/CACHE_MANAGER/);
  });
});

describe("stores.revocations: { type: 'cache', keyPrefix } beside store: 'typeorm' (SQLite)", () => {
  test('sessions in the database, revocations in the cache under the prefix', async () => {
    const target = enabledDatabases({ quiet: true }).find((t) => t.name === 'sqlite')!;
    const app = await boot({ store: 'typeorm', stores: { revocations: { type: 'cache', keyPrefix: 'opt-test:' } } }, [
      CacheModule.register(),
      TypeOrmModule.forRoot({ ...target.options(), migrationsRun: true } as TypeOrmModuleOptions),
    ]);
    try {
      const pair = await login(app);
      // A refresh rotates the session row in the database.
      const rotated = await request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken });
      expect(rotated.status).toBe(200);
      const next = rotated.body as { accessToken: string };
      expect((await logout(app, next.accessToken)).status).toBe(204);
      expect((await get(app, next.accessToken)).body.code).toBe('token_revoked');
      const rows = (await app.get(DataSource).query('SELECT ended_at FROM auth_sessions')) as Array<{ ended_at: unknown }>;
      expect(rows).toHaveLength(1);
      expect(rows[0]!.ended_at).not.toBeNull();
      // The session row's end is the logout's one write (the cache gets nothing then); a revoked token's id goes to
      // the cache under the prefix given there, and nowhere else.
      await app.get(AuthService).revokeToken(pair.accessToken);
      expect(await cached(app, `opt-test:jti:${jtiOf(pair.accessToken)}`)).toBeDefined();
      expect(await cached(app, `nest-auth:jti:${jtiOf(pair.accessToken)}`)).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});

const redisUrl = serviceUrl('redis');

if (needs("revocation.store: 'cache' on Redis", 'redis')) {
  describe("revocation.store: 'cache' on Redis (@keyv/redis), two instances", () => {
    test('a logout on one instance is refused on the other at once', async () => {
      const keyPrefix = `${uniqueTestName('nc')}:`;
      const keyvs = [createKeyv(redisUrl!), createKeyv(redisUrl!)];
      const [one, other] = [
        await boot({ revocation: { store: { type: 'cache', keyPrefix } } }, [CacheModule.register({ stores: [keyvs[0]!] })]),
        await boot({ stores: { revocations: { type: 'cache', keyPrefix } } }, [CacheModule.register({ stores: [keyvs[1]!] })]),
      ];
      try {
        const pair = await login(one!);
        expect((await get(other!, pair.accessToken)).status).toBe(200);
        expect((await logout(one!, pair.accessToken)).status).toBe(204);
        for (const app of [one!, other!]) expect((await get(app, pair.accessToken)).body.code).toBe('token_revoked');
      } finally {
        await one!.close();
        await other!.close();
        for (const keyv of keyvs) await keyv.disconnect().catch(() => undefined);
      }
    });
  });
}
