import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import { NO_CALLER, type Caller } from '../../../src/call/caller.js';
import { AuthModule } from '../../../src/index.js';
import { LoginService } from '../../../src/login/login.service.js';
import { PasswordChecks } from '../../../src/login/password-checks.js';
import type { AuthContextData } from '../../../src/context/auth-context.js';
import { grantCall, grantOf } from '../../../src/context/call-grant.js';
import { SessionService, type SessionCall } from '../../../src/sessions/session.service.js';
import { TokenIssuer } from '../../../src/tokens/token-issuer.js';
import { AuthStores } from '../../../src/store/auth-stores.js';
import { AuthBusyException, TooManyAttemptsException } from '../../../src/throttle/throttle-errors.js';
import { HashWorkerError } from '../../../src/users/hash-workers.js';
import type { AuthUserRecord, PasswordHasher, UserProvider } from '../../../src/users/user.types.js';
import { SECRET } from '../../support/app.js';
import { MemoryUsers, PASSWORDS, withUsersHasher } from '../../support/users.js';

/**
 * Issue 24 item 2: the services below AuthService take the call as a parameter. The login and the session it
 * starts run in an application context with no HTTP server and no request: what the caller names (address,
 * user agent) is what they count and record, and nothing is written anywhere.
 */

const caller = (address: string, userAgent = 'batch-job/1.0'): Caller => ({ ...NO_CALLER, address, ip: address, userAgent });

describe('LoginService and SessionService, called without a request', () => {
  let app: INestApplicationContext;
  const events: AuditEvent[] = [];

  beforeAll(async () => {
    @Module({
      imports: [
        AuthModule.forRoot(
          withUsersHasher({
            jwt: { secret: SECRET },
            users: await MemoryUsers.create(),
            audit: { emit: (e) => void events.push(e) },
            loginThrottle: { perAccountAndIp: { limit: 2, windowSeconds: 60 }, pacingMs: false },
          }),
        ),
      ],
    })
    class App {}
    app = await NestFactory.createApplicationContext(App, { logger: false });
    await app.init();
  });
  afterAll(() => app.close());

  test('a login records the address and user agent the caller names, and returns the pair as it is', async () => {
    const { session, device } = await app.get(LoginService).login('alice', PASSWORDS.alice, caller('203.0.113.20', 'kiosk/2'));
    expect(session.pair).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String), tokenType: 'Bearer' });
    expect(device).toBeUndefined();
    const row = await app.get(AuthStores).sessions.find(session.sessionId);
    expect(row).toMatchObject({ userId: '1', ip: '203.0.113.20', userAgent: 'kiosk/2' });
    expect(events.filter((e) => e.type === 'login.succeeded').pop()).toMatchObject({ ip: '203.0.113.20', sessionId: session.sessionId });
  });

  test("failures count by the caller's address: refused there, another address still checked", async () => {
    const logins = app.get(LoginService);
    for (let i = 0; i < 2; i++)
      await expect(logins.login('bob', 'wrong', caller('203.0.113.21'))).rejects.toMatchObject({ code: 'invalid_credentials' });
    await expect(logins.login('bob', 'wrong', caller('203.0.113.21'))).rejects.toBeInstanceOf(TooManyAttemptsException);
    await expect(logins.login('bob', PASSWORDS.bob, caller('198.51.100.21'))).resolves.toMatchObject({ session: expect.any(Object) });
  });

  test('a refresh rotates with the caller named, and a reused token is refused (and audited with that address)', async () => {
    const sessions = app.get(SessionService);
    const start = await sessions.start({ id: 1, username: 'alice', passwordHash: '', permissions: [] } as AuthUserRecord, caller('203.0.113.22'));
    const rotated = await sessions.refresh(start.pair.refreshToken, caller('203.0.113.22'));
    expect(rotated.sessionId).toBe(start.sessionId);
    await expect(sessions.refresh(start.pair.refreshToken, caller('203.0.113.23'))).rejects.toMatchObject({ code: 'token_revoked' });
    expect(events.filter((e) => e.type === 'refresh.reuse_detected').pop()).toMatchObject({ ip: '203.0.113.23', sessionId: start.sessionId });
  });

  test("the caller's sessions: listed and ended for the call passed in, with no request context", async () => {
    const sessions = app.get(SessionService);
    const start = await sessions.start(
      { id: 2, username: 'bob', passwordHash: '', permissions: [] } as AuthUserRecord,
      caller('203.0.113.24', 'cli/3'),
    );
    const claims = app.get(TokenIssuer).verify(start.pair.accessToken, 'access');
    // What a guard makes of that token (a job keeps it from a call): the grant is what the session methods trust.
    const auth = { userId: '2', sessionId: start.sessionId, backend: 'jwt', claims, permissions: [] } as unknown as AuthContextData;
    grantCall(auth, { type: 'rpc', target: {}, headers: undefined, response: undefined });
    const call: SessionCall = { grant: grantOf(auth)!, kept: true };
    const listed = await sessions.list(call);
    expect(listed).toContainEqual(expect.objectContaining({ id: start.sessionId, current: true, ip: '203.0.113.24', userAgent: 'cli/3' }));
    await sessions.logout(call);
    // Kept, the call is checked again on each use: its token was revoked by the logout.
    await expect(sessions.list(call)).rejects.toMatchObject({ code: 'token_revoked' });
  });
});

describe('PasswordChecks (the queue, the check, the rehash): plain objects, no request', () => {
  const hasher = (over: Partial<PasswordHasher> = {}): PasswordHasher => ({
    hash: async (p) => `v2:${p}`,
    verify: async (h, p) => h === `v1:${p}` || h === `v2:${p}`,
    needsRehash: (h) => h.startsWith('v1:'),
    ...over,
  });

  test('verifies in the queue; a full queue refuses at once with 503 auth_busy', async () => {
    const checks = new PasswordChecks({ max: 1, maxQueued: 0, retryAfterSeconds: 2 });
    let release!: () => void;
    const slow = hasher({ verify: () => new Promise<boolean>((resolve) => (release = () => resolve(true))) });
    const first = checks.verify(slow, 'v1:x', 'x', undefined);
    expect(checks.full).toBe(true);
    await expect(checks.verify(hasher(), 'v1:x', 'x', undefined)).rejects.toBeInstanceOf(AuthBusyException);
    release();
    await expect(first).resolves.toBe(true);
    await expect(checks.verify(hasher(), 'v1:x', 'wrong', undefined)).resolves.toBe(false);
  });

  test('a hashing thread that died is 503 auth_unavailable, not a wrong password', async () => {
    const checks = new PasswordChecks({ max: 1 });
    const dead = hasher({ verify: () => Promise.reject(new HashWorkerError('gone', 'worker_exited')) });
    await expect(checks.verify(dead, 'v1:x', 'x', undefined)).rejects.toMatchObject({ code: 'auth_unavailable', reason: 'password_hasher_failed' });
  });

  test('rehash on login stores a fresh hash for an outdated one, and never fails the login', async () => {
    const checks = new PasswordChecks({ max: 1 });
    const stored: Array<[string, string]> = [];
    const users = {
      findByUsername: async () => null,
      findById: async () => null,
      updatePasswordHash: async (id: string, h: string) => void stored.push([id, h]),
    } as UserProvider;
    const user = { id: 7, username: 'dave', passwordHash: 'v1:pw', permissions: [] } as AuthUserRecord;
    await expect(checks.rehashIfNeeded(hasher(), users, user, 'pw')).resolves.toBe(true);
    expect(stored).toEqual([['7', 'v2:pw']]);
    await expect(checks.rehashIfNeeded(hasher(), users, { ...user, passwordHash: 'v2:pw' }, 'pw')).resolves.toBe(false);
    const failing = { ...users, updatePasswordHash: () => Promise.reject(new Error('db down')) } as UserProvider;
    await expect(checks.rehashIfNeeded(hasher(), failing, user, 'pw')).resolves.toBe(false);
  });
});
