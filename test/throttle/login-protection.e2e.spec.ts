import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { hashSync } from '@node-rs/bcrypt';
import { hash as argon2Hash } from '@node-rs/argon2';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { Argon2PasswordHasher } from '../../src/index.js';
import { ConcurrencyLimit } from '../../src/login/concurrency-limit.js';
import { hashWorkerPool } from '../../src/users/hash-workers.js';
import { SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { CapturingLogger } from '../support/logger.js';
import { bootThrottledApp } from '../support/throttle-app.js';
import { GatedHasher } from '../support/gated-hasher.js';
import { MemoryUsers, MODULE_DEFAULT_HASHER, PASSWORDS } from '../support/users.js';

class RehashingUsers extends MemoryUsers {
  updates: Array<{ id: string; hash: string }> = [];
  failUpdates = false;
  async updatePasswordHash(userId: string, newHash: string): Promise<void> {
    if (this.failUpdates) throw new Error(`duplicate value ${newHash} for column password_hash`);
    this.updates.push({ id: userId, hash: newHash });
    (await this.findById(userId))!.passwordHash = newHash;
  }
}

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('load shedding: the bounded password-check queue', () => {
  let app: INestApplication;
  let hasher: GatedHasher;
  beforeAll(async () => {
    hasher = new GatedHasher();
    app = await bootThrottledApp(
      {
        jwt: { secret: SECRET },
        users: await MemoryUsers.create(),
        passwordHasher: hasher,
        loginThrottle: { passwordChecks: { concurrency: 1, maxQueued: 2, retryAfterSeconds: 2 } },
      },
      { controllers: ALL_CONTROLLERS },
    );
    await app.listen(0, '127.0.0.1');
  });
  afterAll(() => app.close());

  test('beyond concurrency + maxQueued, a login is 503 auth_busy with Retry-After at once; the queued ones still finish', async () => {
    const http = request(app.getHttpServer());
    hasher.hold();
    const queued = [0, 1, 2].map((i) =>
      http
        .post('/auth/login')
        .send({ username: `user${i}`, password: 'x' })
        .then((r) => r),
    );
    await waitFor(() => hasher.verifies >= 1);
    await new Promise((r) => setTimeout(r, 50));
    const busy = await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(busy.status).toBe(503);
    expect(busy.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String), code: 'auth_busy' });
    expect(busy.headers['retry-after']).toBe('2');
    hasher.release();
    expect((await Promise.all(queued)).map((r) => r.status)).toEqual([401, 401, 401]);
    // A busy answer did not count as a failed attempt.
    expect((await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).status).toBe(200);
  });

  test('a client that disconnects while queued is dropped before hashing', async () => {
    hasher.hold();
    const before = hasher.verifies;
    const port = ((app.getHttpServer() as Server).address() as AddressInfo).port;
    const http = request(app.getHttpServer());
    const first = http
      .post('/auth/login')
      .send({ username: 'first', password: 'x' })
      .then((r) => r);
    await waitFor(() => hasher.verifies === before + 1);
    // The second login queues behind the first, then its client goes away.
    const body = JSON.stringify({ username: 'gone', password: 'x' });
    const gone = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/auth/login',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    gone.on('error', () => undefined);
    gone.end(body);
    await new Promise((r) => setTimeout(r, 100));
    gone.destroy();
    await new Promise((r) => setTimeout(r, 100));
    hasher.release();
    expect((await first).status).toBe(401);
    await new Promise((r) => setTimeout(r, 100));
    expect(hasher.verifies).toBe(before + 1);
  });

  test('the queue alone (unit): waiting tasks leave on abort, the rest run in order', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueued: 5 });
    const order: number[] = [];
    let releaseFirst!: () => void;
    const first = limit.run(() => new Promise<void>((r) => (releaseFirst = r)).then(() => order.push(0)));
    const controller = new AbortController();
    const aborted = limit.run(async () => order.push(1), { signal: controller.signal });
    const third = limit.run(async () => order.push(2));
    expect(limit.queued).toBe(2);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ reason: 'client_gone' });
    expect(limit.queued).toBe(1);
    releaseFirst();
    await Promise.all([first, third]);
    expect(order).toEqual([0, 2]);
  });
});

describe('a hashing thread that dies under a login', () => {
  let app: INestApplication;
  beforeAll(async () => {
    // The module's own hasher (argon2id on its hash workers) is the subject: the worker under a login dies.
    const users = await MemoryUsers.create(MODULE_DEFAULT_HASHER);
    // A hash with many passes: its check lasts long enough to kill the worker under it.
    users.get('alice').passwordHash = await argon2Hash(PASSWORDS.alice, { memoryCost: 19456, timeCost: 60 });
    app = await bootThrottledApp({ jwt: { secret: SECRET }, users }, { controllers: ALL_CONTROLLERS });
    await app.listen(0, '127.0.0.1');
  });
  afterAll(() => app.close());

  test('is 503 auth_unavailable, not a 500 and not a wrong password; the next login works', async () => {
    const http = request(app.getHttpServer());
    const pool = hashWorkerPool(19); // the default hasher's ('background')
    const login = http
      .post('/auth/login')
      .send({ username: 'alice', password: PASSWORDS.alice })
      .then((r) => r);
    await waitFor(() => pool.size > 0);
    await new Promise((r) => setTimeout(r, 100));
    await pool.terminate();
    const dead = await login;
    expect(dead.status).toBe(503);
    expect(dead.body).toMatchObject({ statusCode: 503, code: 'auth_unavailable' });
    expect(JSON.stringify(dead.body)).not.toContain(PASSWORDS.alice);
    expect((await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).status).toBe(200);
  });
});

describe('rehash on login and bcrypt migration', () => {
  let app: INestApplication;
  let users: RehashingUsers;
  const logger = new CapturingLogger();
  const hasher = new Argon2PasswordHasher();

  beforeAll(async () => {
    // The module's default hasher (argon2id) is the subject: what it takes over from bcrypt and what it finds outdated.
    users = await RehashingUsers.create(MODULE_DEFAULT_HASHER);
    app = await bootThrottledApp({ jwt: { secret: SECRET }, users }, { controllers: ALL_CONTROLLERS, logger });
  });
  afterAll(() => app.close());

  const set = (username: string, passwordHash: string) => {
    users.get(username).passwordHash = passwordHash;
  };
  const login = (username: string, password: string) => request(app.getHttpServer()).post('/auth/login').send({ username, password });

  test.each([
    ['$2b$', (p: string) => hashSync(p, 4)],
    ['$2a$', (p: string) => hashSync(p, 4).replace(/^\$2b\$/, '$2a$')],
    ['$2y$', (p: string) => hashSync(p, 4).replace(/^\$2b\$/, '$2y$')],
  ])('a %s bcrypt hash logs in and is replaced by argon2id', async (_, make) => {
    set('alice', make(PASSWORDS.alice));
    users.updates = [];
    expect((await login('alice', 'not-her-password')).status).toBe(401);
    expect(users.updates).toEqual([]);
    expect((await login('alice', PASSWORDS.alice)).status).toBe(200);
    expect(users.updates).toHaveLength(1);
    expect(users.updates[0].hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(hasher.needsRehash(users.updates[0].hash)).toBe(false);
    // The next login verifies the argon2id hash and does not rehash again.
    expect((await login('alice', PASSWORDS.alice)).status).toBe(200);
    expect(users.updates).toHaveLength(1);
  });

  test('an argon2 hash with older parameters (or argon2i) is rehashed; a current one is not', async () => {
    for (const old of [
      await argon2Hash(PASSWORDS.bob, { memoryCost: 4096, timeCost: 1 }),
      await argon2Hash(PASSWORDS.bob, { algorithm: 1 as never }),
    ]) {
      set('bob', old);
      users.updates = [];
      expect((await login('bob', PASSWORDS.bob)).status).toBe(200);
      expect(users.updates).toHaveLength(1);
      expect(users.updates[0].hash.startsWith('$argon2id$v=19$m=19456,t=2,p=1$')).toBe(true);
    }
    users.updates = [];
    expect((await login('bob', PASSWORDS.bob)).status).toBe(200);
    expect(users.updates).toEqual([]);
  });

  test('a failure to store the new hash never fails the login, and the log holds neither hash nor password', async () => {
    const old = hashSync(PASSWORDS.root, 4);
    set('root', old);
    users.failUpdates = true;
    try {
      expect((await login('root', PASSWORDS.root)).status).toBe(200);
    } finally {
      users.failUpdates = false;
    }
    expect(logger.text).toContain('password rehash for user 3 was not stored');
    expect(logger.text).not.toContain(old);
    expect(logger.text).not.toContain('$argon2id$');
    expect(logger.text).not.toContain(PASSWORDS.root);
  });

  test('needsRehash (unit): bcrypt, other argon2 variants and parameters yes; this hasher’s own output no', async () => {
    expect(hasher.needsRehash(hashSync('x', 4))).toBe(true);
    expect(hasher.needsRehash(await hasher.hash('x'))).toBe(false);
    expect(new Argon2PasswordHasher({ timeCost: 3 }).needsRehash(await hasher.hash('x'))).toBe(true);
    expect(hasher.needsRehash('not a hash')).toBe(true);
    expect(await hasher.verify('$2b$04$malformed', 'x')).toBe(false);
  });
});
