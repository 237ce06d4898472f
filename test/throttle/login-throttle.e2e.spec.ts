import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { Body, Controller, HttpCode, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuthService, LoginDto, Public, type AuditEvent } from '../../src/index.js';
import { InMemoryThrottleStore } from '../../src/throttle/in-memory-throttle.store.js';
import { SkipLoginThrottle } from '../../src/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { CapturingLogger } from '../support/logger.js';
import { bootThrottledApp, type ThrottledAuthOptions } from '../support/throttle-app.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { TestPasswordHasher } from '../../src/testing/index.js';

/** An app with its own throttling: the module's counters stay out of its way. */
@Controller('own')
class OwnThrottleController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @SkipLoginThrottle()
  @Post('login')
  @HttpCode(200)
  login(@Body() body: LoginDto) {
    return this.auth.login(body.username, body.password);
  }
}

/** Counts the password checks, to show what a throttled answer does (nothing) without measuring time. */
class CountingHasher extends TestPasswordHasher {
  verifies = 0;
  override verify(hash: string, plain: string) {
    this.verifies++;
    return super.verify(hash, plain);
  }
}

const LIMITS = {
  perAccountAndIp: { limit: 3, windowSeconds: 60 },
  perAccount: { limit: 6, windowSeconds: 60 },
  perIp: { limit: 8, windowSeconds: 60 },
  refreshPerIp: { limit: 4, windowSeconds: 60 },
};

describe.each(ADAPTERS)('login throttle on %s', (adapter) => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let store: InMemoryThrottleStore;
  let hasher: CountingHasher;
  const events: AuditEvent[] = [];
  const logger = new CapturingLogger();

  beforeAll(async () => {
    hasher = new CountingHasher();
    store = new InMemoryThrottleStore();
    const users = await MemoryUsers.create();
    const options: ThrottledAuthOptions = {
      jwt: { secret: SECRET },
      users,
      passwordHasher: hasher,
      audit: { emit: (e) => void events.push(e) },
      loginThrottle: { ...LIMITS, store },
    };
    app = await bootThrottledApp(options, { adapter, controllers: [...ALL_CONTROLLERS, OwnThrottleController], logger });
    http = request(app.getHttpServer());
  });
  afterAll(() => app.close());
  // Every test starts with fresh counters: the store is the app's, emptied between tests.
  afterEach(async () => {
    (store as unknown as { counters: Map<string, unknown> }).counters.clear();
    events.length = 0;
  });

  const login = (username: string, password: string, path = '/auth/login') => http.post(path).send({ username, password });

  test('after `limit` failures the account-and-IP is 429 too_many_attempts with Retry-After, even with the right password', async () => {
    for (let i = 0; i < 3; i++) expect((await login('alice', 'wrong-password')).status).toBe(401);
    const throttled = await login('alice', 'wrong-password');
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({ statusCode: 429, error: 'Too Many Requests', message: expect.any(String), code: 'too_many_attempts' });
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    const right = await login('alice', PASSWORDS.alice);
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('too_many_attempts');
    expect(right.body.accessToken).toBeUndefined();
  });

  test('a throttled answer does not tell a real username from an unknown one: same status, headers, body, and no password check', async () => {
    for (const name of ['alice', 'nobody-here']) {
      for (let i = 0; i < 3; i++) expect((await login(name, 'wrong-password')).status).toBe(401);
    }
    // Before the limit, an unknown name cost a password check too (the dummy hash): equal work.
    expect(hasher.verifies).toBeGreaterThanOrEqual(6);
    const before = hasher.verifies;
    const real = await login('alice', 'wrong-password');
    const unknown = await login('nobody-here', 'wrong-password');
    expect(hasher.verifies).toBe(before);
    const shape = (r: request.Response) => ({
      status: r.status,
      body: r.body,
      retryAfter: r.headers['retry-after'] !== undefined,
      headers: Object.keys(r.headers)
        .filter((h) => h !== 'date')
        .sort(),
      length: r.headers['content-length'],
    });
    expect(shape(unknown)).toEqual(shape(real));
  });

  test('the audit says login.throttled with a keyed fingerprint of the username, never the raw text', async () => {
    for (let i = 0; i < 4; i++) await login('Secret-Typo-Password', 'x');
    const throttled = events.filter((e) => (e.type as string) === 'login.throttled');
    expect(throttled).toHaveLength(1);
    const event = throttled[0] as AuditEvent;
    expect(event.username).toMatch(/^fp:[A-Za-z0-9_-]{16}$/);
    expect(event.reason).toBe('perAccountAndIp');
    expect(JSON.stringify(throttled)).not.toContain('Secret-Typo-Password');
    expect(JSON.stringify(throttled).toLowerCase()).not.toContain('secret-typo-password');
  });

  test('a login.throttled event carries the fingerprint of the login.failed events of the same name (one fingerprint)', async () => {
    // An unknown name is never logged as text: both events show its keyed fingerprint, and it is the same one, so
    // the refusal can be matched to the failures that led to it. Spelled differently each time: one account.
    for (const typed of ['Mallory-Typo', 'mallory-typo', 'MALLORY-TYPO', 'Mallory-Typo']) await login(typed, 'wrong-password');
    const failed = events.filter((e) => e.type === 'login.failed');
    const throttled = events.filter((e) => (e.type as string) === 'login.throttled');
    expect(failed).toHaveLength(3);
    expect(throttled).toHaveLength(1);
    expect(throttled[0].username).toMatch(/^fp:[A-Za-z0-9_-]{16}$/);
    expect(failed.map((e) => e.username)).toEqual([throttled[0].username, throttled[0].username, throttled[0].username]);
  });

  test('a successful login resets the account-and-IP counter', async () => {
    for (let i = 0; i < 2; i++) expect((await login('alice', 'wrong-password')).status).toBe(401);
    expect((await login('alice', PASSWORDS.alice)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await login('alice', 'wrong-password')).status).toBe(401);
    expect((await login('alice', 'wrong-password')).status).toBe(429);
  });

  test('case variants of a username share one counter', async () => {
    for (const name of ['alice', 'ALICE', 'Alice']) expect((await login(name, 'wrong-password')).status).toBe(401);
    expect((await login('aLiCe', 'wrong-password')).status).toBe(429);
  });

  test('one IP spraying many usernames hits the per-IP limit', async () => {
    for (let i = 0; i < 8; i++) expect((await login(`user-${i}`, 'wrong-password')).status).toBe(401);
    const res = await login('user-new', 'wrong-password');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
  });

  test('@SkipLoginThrottle() routes are not counted or refused', async () => {
    for (let i = 0; i < 6; i++) expect((await login('bob', 'wrong-password', '/own/login')).status).toBe(401);
    expect((await login('bob', PASSWORDS.bob, '/own/login')).status).toBe(200);
    // And they left the counters of the throttled route alone.
    expect((await login('bob', PASSWORDS.bob)).status).toBe(200);
  });

  test('refresh with invalid refresh tokens is bounded per IP', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await http.post('/auth/refresh').send({ refreshToken: `not.a.token${i}` });
      expect(res.status).toBe(401);
    }
    const res = await http.post('/auth/refresh').send({ refreshToken: 'not.a.token' });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('too_many_attempts');
    expect(res.headers['retry-after']).toBeDefined();
  });

  test('valid refreshes do not use up the per-IP refresh budget', async () => {
    let pair = (await login('alice', PASSWORDS.alice)).body;
    for (let i = 0; i < 6; i++) {
      const res = await http.post('/auth/refresh').send({ refreshToken: pair.refreshToken });
      expect(res.status).toBe(200);
      pair = res.body;
    }
  });

  test('no log line carries a password', () => {
    expect(logger.text).not.toContain(PASSWORDS.alice);
    expect(logger.text).not.toContain('wrong-password');
  });
});
