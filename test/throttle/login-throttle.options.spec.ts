import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createServer, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { AuthConfigError } from '../../src/index.js';
import { LOGIN_THROTTLE_DEFAULTS, resolveLoginThrottleOptions } from '../../src/throttle/login-throttle.options.js';
import { SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { bootThrottledApp } from '../support/throttle-app.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

const ctx = { jwt: { secret: SECRET } };

describe('resolveLoginThrottleOptions', () => {
  test('on by default, with the documented limits, in the module store, keyed from the JWT secret', () => {
    const r = resolveLoginThrottleOptions(undefined, ctx);
    expect(r.enabled).toBe(true);
    expect(r.perAccountAndIp).toEqual(LOGIN_THROTTLE_DEFAULTS.perAccountAndIp);
    expect(r.perAccount).toEqual({ limit: 100, windowSeconds: 900 });
    expect(r.perIp).toEqual({ limit: 200, windowSeconds: 900 });
    expect(r.refreshPerIp).toEqual({ limit: 30, windowSeconds: 60 });
    expect(r.store).toBe('memory');
    expect(r.fingerprintKeyIsRandom).toBe(false);
    expect(r.fingerprintKey.equals(resolveLoginThrottleOptions(undefined, ctx).fingerprintKey)).toBe(true);
    expect(r.passwordChecks.maxQueued).toBe(4 * r.passwordChecks.concurrency);
    expect(resolveLoginThrottleOptions({}, { ...ctx, store: 'typeorm' }).store).toBe('typeorm');
    expect(resolveLoginThrottleOptions(false, ctx).enabled).toBe(false);
    expect(resolveLoginThrottleOptions({ perAccount: false }, ctx).perAccount).toBeNull();
    expect(r.pacingMs).toBe(1000);
    expect(resolveLoginThrottleOptions({ pacingMs: false }, ctx).pacingMs).toBe(0);
    expect(resolveLoginThrottleOptions({ pacingMs: 0 }, ctx).pacingMs).toBe(0);
    expect(resolveLoginThrottleOptions({ pacingMs: 250 }, ctx).pacingMs).toBe(250);
  });

  test.each([
    [{ nope: 1 }, 'loginThrottle.nope'],
    [{ pacingMs: -1 }, 'loginThrottle.pacingMs'],
    [{ pacingMs: 1.5 }, 'loginThrottle.pacingMs'],
    [{ pacingMs: '1000' }, 'loginThrottle.pacingMs'],
    [{ pacingMs: true }, 'loginThrottle.pacingMs'],
    [{ pacingMs: 10_001 }, 'loginThrottle.pacingMs'],
    [{ enabled: 'yes' }, 'loginThrottle.enabled'],
    [{ perIp: { limit: 0, windowSeconds: 10 } }, 'loginThrottle.perIp.limit'],
    [{ perAccount: { limit: 5, windowSeconds: 1.5 } }, 'loginThrottle.perAccount.windowSeconds'],
    [{ perAccountAndIp: { limit: 5, windowSeconds: 999_999 } }, 'loginThrottle.perAccountAndIp.windowSeconds'],
    [{ perIp: { limit: 5, window: 10 } }, 'loginThrottle.perIp.window'],
    [{ store: 'mongo' }, 'loginThrottle.store'],
    [{ store: 'typeorm' }, 'loginThrottle.store'],
    [{ store: 'redis' }, 'loginThrottle.redis'],
    [{ store: 'redis', redis: { url: 'http://x' } }, 'loginThrottle.redis.url'],
    [{ redis: { url: 'redis://127.0.0.1:6379', client: { eval() {} } } }, 'loginThrottle.redis'],
    [{ fingerprintKey: 'short' }, 'loginThrottle.fingerprintKey'],
    [{ passwordChecks: { concurrency: 0 } }, 'loginThrottle.passwordChecks.concurrency'],
    [{ passwordChecks: { queue: 3 } }, 'loginThrottle.passwordChecks.queue'],
  ])('%j is refused naming %s', (raw, option) => {
    let caught: unknown;
    try {
      resolveLoginThrottleOptions(raw, ctx);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AuthConfigError);
    expect((caught as AuthConfigError).option).toBe(option);
  });

  test('a bad loginThrottle fails the boot, not the first request', async () => {
    await expect(
      bootThrottledApp(
        { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle: { perIp: { limit: -1, windowSeconds: 5 } } },
        { controllers: ALL_CONTROLLERS },
      ),
    ).rejects.toMatchObject({ option: 'loginThrottle.perIp.limit' });
  });
});

describe('a throttle store that hangs', () => {
  let app: INestApplication;
  let blackhole: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers: every Redis call would hang without the bound.
    blackhole = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
    await new Promise((r) => blackhole.once('listening', r));
    const port = (blackhole.address() as { port: number }).port;
    app = await bootThrottledApp(
      {
        jwt: { secret: SECRET },
        users: await MemoryUsers.create(),
        loginThrottle: { store: 'redis', redis: { url: `redis://127.0.0.1:${port}` }, storeTimeoutMs: 300 },
      },
      { controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    for (const s of sockets) s.destroy();
    blackhole.close();
  });

  test('login answers 503 auth_unavailable, never a 500, a hang or a 401', async () => {
    const res = await request(app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('auth_unavailable');
  });
});
