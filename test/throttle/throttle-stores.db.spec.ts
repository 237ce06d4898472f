/**
 * Every ThrottleStore: atomic counting under concurrency, release, reset, windows;
 * and two app instances sharing the store: 100 concurrent failed logins give
 * exactly `limit` 401s, the rest 429s. Memory and SQLite always; PostgreSQL and
 * MariaDB with AUTH_TEST_POSTGRES_URL / AUTH_TEST_MYSQL_URL; Redis with
 * AUTH_TEST_REDIS_URL (.ci/run sets them all).
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import request from 'supertest';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { LoginThrottle } from '../../src/throttle/login-throttle.js';
import { InMemoryThrottleStore } from '../../src/throttle/in-memory-throttle.store.js';
import { RedisThrottleStore } from '../../src/throttle/redis-throttle.store.js';
import type { ThrottleStore } from '../../src/throttle/throttle-store.js';
import { TypeOrmThrottleStore } from '../../src/throttle/typeorm-throttle.store.js';
import { SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, type DbTarget } from '../support/databases.js';
import { bootThrottledApp, type ThrottledAuthOptions } from '../support/throttle-app.js';
import { MemoryUsers } from '../support/users.js';
import { runnableVariants, serviceUrl } from '../support/services.js';

interface StoreTarget {
  name: string;
  /** A fresh store, and options for an app instance that counts in the same place. */
  open(): Promise<{ store: ThrottleStore; appOptions(): Promise<Partial<ThrottledAuthOptions> & { imports?: unknown[] }>; close(): Promise<void> }>;
}

/** The module's entities and migrations include the throttle's (test/db/migrations.db.spec.ts checks them all). */
function dbOptions(target: DbTarget): DataSourceOptions {
  return target.options();
}

function typeormTarget(target: DbTarget): StoreTarget {
  return {
    name: `typeorm ${target.name}`,
    open: async () => {
      await target.reset();
      const ds = await new DataSource(dbOptions(target)).initialize();
      await ds.query(target.name === 'mysql' ? 'DROP TABLE IF EXISTS `auth_throttle_counters`' : 'DROP TABLE IF EXISTS "auth_throttle_counters"');
      await ds.runMigrations();
      return {
        store: new TypeOrmThrottleStore(ds),
        appOptions: async () => ({ store: 'typeorm', imports: [TypeOrmModule.forRoot(dbOptions(target))] }),
        close: () => ds.destroy(),
      };
    },
  };
}

const redisUrl = serviceUrl('redis');

function redisTarget(url: string): StoreTarget {
  return {
    name: 'redis',
    open: async () => {
      // A prefix of our own on the shared server: this suite never touches another key.
      const keyPrefix = `throttle-test:${randomBytes(6).toString('hex')}:`;
      const clients: Redis[] = [];
      const client = () => {
        const c = new Redis(url, { maxRetriesPerRequest: 1 });
        clients.push(c);
        return c;
      };
      return {
        store: new RedisThrottleStore(client(), { keyPrefix }),
        appOptions: async () => ({ loginThrottle: { store: 'redis', redis: { client: client(), keyPrefix } } }),
        close: async () => {
          const keys = await clients[0].keys(`${keyPrefix}*`);
          if (keys.length > 0) await clients[0].del(...keys);
          await Promise.all(clients.map((c) => c.quit()));
        },
      };
    },
  };
}

function memoryTarget(): StoreTarget {
  return {
    name: 'memory',
    open: async () => {
      const store = new InMemoryThrottleStore();
      return { store, appOptions: async () => ({ loginThrottle: { store } }), close: async () => undefined };
    },
  };
}

// One line for what this suite skips: the database servers and Redis.
const running = runnableVariants('the throttle stores', { postgres: ['postgres'], mariadb: ['mysql'], redis: ['redis'] });
const targets: StoreTarget[] = [memoryTarget(), ...enabledDatabases({ quiet: true }).map(typeormTarget)];
if (running.includes('redis')) targets.push(redisTarget(redisUrl!));

describe.each(targets)('throttle store: $name', (target) => {
  let opened: Awaited<ReturnType<StoreTarget['open']>>;
  beforeAll(async () => {
    opened = await target.open();
  });
  afterAll(() => opened.close());

  test('200 concurrent hits on one key count 1..200, each exactly once', async () => {
    const hits = await Promise.all(Array.from({ length: 200 }, () => opened.store.hit('k:concurrent', 60_000)));
    expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // One window for all of them.
    expect(new Set(hits.map((h) => h.resetAt)).size).toBeLessThanOrEqual(hits.length);
    const resets = hits.map((h) => h.resetAt);
    expect(Math.max(...resets) - Math.min(...resets)).toBeLessThan(60_000);
  });

  test('release takes one back, never below zero; reset forgets the counter', async () => {
    await opened.store.hit('k:release', 60_000);
    await opened.store.hit('k:release', 60_000);
    await opened.store.release('k:release');
    expect((await opened.store.hit('k:release', 60_000)).count).toBe(2);
    await opened.store.reset('k:release');
    await opened.store.release('k:release');
    await opened.store.release('k:release');
    expect((await opened.store.hit('k:release', 60_000)).count).toBe(1);
  });

  test('an ended window starts again at one, and a new hit does not stretch a running window', async () => {
    const first = await opened.store.hit('k:window', 60_000);
    await new Promise((r) => setTimeout(r, 20));
    const second = await opened.store.hit('k:window', 60_000);
    // The second hit reports the window the first opened (Redis derives it from PTTL: a few ms of jitter).
    expect(second.resetAt).toBeLessThan(first.resetAt + 15);
    await opened.store.hit('k:short', 30);
    await new Promise((r) => setTimeout(r, 80));
    expect((await opened.store.hit('k:short', 30)).count).toBe(1);
  });

  test('keys are independent', async () => {
    await opened.store.hit('k:a', 60_000);
    expect((await opened.store.hit('k:b', 60_000)).count).toBe(1);
  });

  test('100 concurrent failed logins on two app instances sharing the store: exactly `limit` 401s, then 429s', async () => {
    const users = await MemoryUsers.create();
    const limit = 7;
    const apps: INestApplication[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const {
          imports = [],
          loginThrottle = {},
          ...rest
        } = (await opened.appOptions()) as Record<string, unknown> & { imports?: never[]; loginThrottle?: object };
        apps.push(
          await bootThrottledApp(
            {
              jwt: { secret: SECRET },
              users,
              ...rest,
              // Both instances derive the fingerprint key from the shared JWT secret: their keys agree.
              loginThrottle: {
                ...loginThrottle,
                perAccountAndIp: { limit, windowSeconds: 60 },
                perAccount: { limit: 50, windowSeconds: 60 },
                perIp: { limit: 500, windowSeconds: 60 },
                // What is counted, not how refusals are paced: 93 refusals from one address would be held up to 8 s.
                pacingMs: false,
                // What is counted, not how long a busy store may take: 100 logins at once on a loaded CI machine
                // can queue on the pool past the 2 s default, and a 503 there would hide the count.
                storeTimeoutMs: 30_000,
              },
            },
            { imports, controllers: ALL_CONTROLLERS },
          ),
        );
      }
      const servers = apps.map((a) => a.getHttpServer());
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          request(servers[i % 2])
            .post('/auth/login')
            .send({ username: 'alice', password: `wrong-${i}` }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      const tally = (list: number[]) => Object.fromEntries([...new Set(list)].map((s) => [s, list.filter((x) => x === s).length]));
      expect(tally(statuses)).toEqual({ 401: limit, 429: 100 - limit });
      // The account-and-IP refusals gave their per-account counts back: only the 7 checked passwords used up the account.
      const fp = apps[0].get(LoginThrottle).usernameFingerprint('alice');
      expect((await opened.store.hit(`a:${fp}`, 60_000)).count).toBe(limit + 1);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
  });
});
