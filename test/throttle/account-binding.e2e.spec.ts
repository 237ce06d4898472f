import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { AuditEvent, AuthUserRecord } from '../../src/index.js';
import { TestPasswordHasher } from '../../src/testing/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { bootThrottledApp } from '../support/throttle-app.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/** What an accent- and case-insensitive collation does (MariaDB's utf8mb4_general_ci): `álice`, `ALICE`, `âlicę` are alice. */
const fold = (name: string) => name.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

class FoldingUsers extends MemoryUsers {
  override async findByUsername(username: string): Promise<AuthUserRecord | null> {
    return this.all().find((user) => fold(user.username) === fold(username)) ?? null;
  }
}

/** Counts password checks: an account over its limit must cost the same work as an unknown name. */
class CountingHasher extends TestPasswordHasher {
  verifies = 0;
  override verify(hash: string, plain: string) {
    this.verifies++;
    return super.verify(hash, plain);
  }
}

describe.each(ADAPTERS)('one account, one budget, whatever its spelling, on %s (case- and accent-insensitive lookup)', (adapter) => {
  let app: INestApplication;
  const hasher = new CountingHasher();
  const events: AuditEvent[] = [];
  const login = (username: string, password: string) => request(app.getHttpServer()).post('/auth/login').send({ username, password });

  beforeAll(async () => {
    app = await bootThrottledApp(
      {
        jwt: { secret: SECRET },
        users: await FoldingUsers.create(),
        passwordHasher: hasher,
        audit: { emit: (e: AuditEvent) => void events.push(e) },
        loginThrottle: { perAccountAndIp: { limit: 3, windowSeconds: 60 }, perAccount: { limit: 6, windowSeconds: 60 }, perIp: false },
      },
      { controllers: ALL_CONTROLLERS, adapter },
    );
  });
  afterAll(() => app.close());

  test("spellings that resolve to alice share alice's limits: the right password as âlicę does not get in while alice is throttled", async () => {
    for (let i = 0; i < 3; i++) expect((await login('alice', 'wrong')).status).toBe(401);
    expect((await login('alice', PASSWORDS.alice)).status).toBe(429);
    // Each a new typed name (its own typed counter is fresh), each resolved to alice: over alice's limit.
    for (const spelling of ['álice', 'âlicę', 'ÀLİCE'.normalize('NFC'), 'alicé']) {
      const res = await login(spelling, PASSWORDS.alice);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_credentials');
    }
    expect(events.filter((e) => e.type === 'login.throttled' && e.reason === 'perAccountAndIp:resolved_account')).toHaveLength(4);
    expect(events.some((e) => e.type === 'login.succeeded')).toBe(false);
  });

  test('an account over its limit answers as an unknown name does, after the same password work', async () => {
    const locked = await (async () => {
      const before = hasher.verifies;
      const res = await login('ålice', PASSWORDS.alice);
      return { status: res.status, body: res.body, checks: hasher.verifies - before };
    })();
    const unknown = await (async () => {
      const before = hasher.verifies;
      const res = await login('ålicia', PASSWORDS.alice);
      return { status: res.status, body: res.body, checks: hasher.verifies - before };
    })();
    expect(locked).toEqual(unknown);
    expect(locked).toMatchObject({ status: 401, checks: 1 });
  });

  test('another account is not touched, and its own variants log in', async () => {
    expect((await login('BÓB', PASSWORDS.bob)).status).toBe(200);
    expect((await login('bob', PASSWORDS.bob)).status).toBe(200);
  });
});
