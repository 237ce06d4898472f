import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AuthService, type AuditEvent, type AuthModuleOptions } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource, type DbTarget } from '../support/databases.js';
import { bearer, login } from '../support/http.js';
import { eventually, sleep } from '../support/time.js';
import { MemoryUsers } from '../support/users.js';

const SYNC_MS = 50;
/** How long a test waits for another instance's poll: many intervals, for a loaded machine; a bound, not a speed check. */
const WAIT_MS = 5000;

describe.each(enabledDatabases())('sessions and revocation on $name', (target: DbTarget) => {
  let users: MemoryUsers;
  const apps: INestApplication[] = [];
  const events: AuditEvent[] = [];

  async function boot(extra: Partial<AuthModuleOptions> = {}): Promise<INestApplication> {
    const app = await bootApp(
      {
        jwt: { secret: SECRET },
        users,
        store: 'typeorm',
        revocation: { syncIntervalMs: SYNC_MS, ...extra.revocation },
        audit: { emit: (e) => void events.push(e) },
        ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'revocation')),
      },
      { controllers: ALL_CONTROLLERS, imports: [TypeOrmModule.forRoot(target.options())] },
    );
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    users = await MemoryUsers.create();
    await target.reset();
    await (await migratedDataSource(target)).destroy();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  test('rotation: the new pair works, the old refresh token does not; reuse ends the session', async () => {
    const app = await boot();
    const http = request(app.getHttpServer());
    const first = await login(app);
    const second = await http.post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(second.status).toBe(200);
    expect((await http.get('/private').set(bearer(second.body.accessToken))).status).toBe(200);

    const reuse = await http.post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('token_revoked');
    expect(events.some((e) => e.type === 'refresh.reuse_detected' && e.sessionId === decodeJwt(first.accessToken).sid)).toBe(true);
    expect((await http.post('/auth/refresh').send({ refreshToken: second.body.refreshToken })).status).toBe(401);
    expect((await http.get('/private').set(bearer(second.body.accessToken))).body.code).toBe('token_revoked');
  });

  test('20 concurrent refreshes with one refresh token: exactly one succeeds', async () => {
    const app = await boot();
    const pair = await login(app);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(19);
    expect(results.every((r) => r.status === 200 || r.body.code === 'token_revoked')).toBe(true);
  });

  test('two instances: a logout on one is refused by the other within syncIntervalMs (cached), at once (strict)', async () => {
    const a = await boot();
    const b = await boot();
    const strict = await boot({ revocation: { consistency: 'strict' } });
    const pair = await login(a);
    for (const app of [b, strict]) expect((await request(app.getHttpServer()).get('/private').set(bearer(pair.accessToken))).status).toBe(200);

    expect((await request(a.getHttpServer()).post('/auth/logout').set(bearer(pair.accessToken))).status).toBe(204);
    expect((await request(a.getHttpServer()).get('/private').set(bearer(pair.accessToken))).body.code).toBe('token_revoked');
    expect((await request(strict.getHttpServer()).get('/private').set(bearer(pair.accessToken))).body.code).toBe('token_revoked');
    // b learns from the change log on its next poll (one interval plus the poll itself, later on a loaded
    // machine): wait for it, bounded, then assert what it answers.
    await eventually(
      async () => (await request(b.getHttpServer()).get('/private').set(bearer(pair.accessToken))).status === 401,
      'the other instance to refuse the logged-out token',
      WAIT_MS,
    ).catch(() => undefined);
    const onB = await request(b.getHttpServer()).get('/private').set(bearer(pair.accessToken));
    expect(onB.status).toBe(401);
    expect(onB.body.code).toBe('token_revoked');
  });

  test('revokeToken and revokeAllForUser on one instance reach the other', async () => {
    const a = await boot();
    const b = await boot();
    const alice = await login(a, 'alice');
    const bob = await login(a, 'bob');
    const bob2 = await login(a, 'bob');
    expect((await request(a.getHttpServer()).post('/auth/logout-all').set(bearer(bob.accessToken))).status).toBe(204);
    // b learns of the cut-off on its next poll of the change log: wait for it, bounded (a refuses at once).
    await eventually(
      async () => (await request(b.getHttpServer()).get('/private').set(bearer(bob2.accessToken))).status === 401,
      'the other instance to apply the cut-off',
      WAIT_MS,
    ).catch(() => undefined);
    for (const app of [a, b]) {
      const http = request(app.getHttpServer());
      expect((await http.get('/private').set(bearer(bob.accessToken))).body.code).toBe('token_revoked');
      expect((await http.get('/private').set(bearer(bob2.accessToken))).body.code).toBe('token_revoked');
      expect((await http.get('/private').set(bearer(alice.accessToken))).status).toBe(200);
    }
    expect((await request(b.getHttpServer()).post('/auth/refresh').send({ refreshToken: bob2.refreshToken })).status).toBe(401);
    const again = await login(b, 'bob');
    expect((await request(a.getHttpServer()).get('/private').set(bearer(again.accessToken))).status).toBe(200);
  });

  test('revocations survive a restart', async () => {
    const a = await boot();
    const pair = await login(a);
    await request(a.getHttpServer()).post('/auth/logout').set(bearer(pair.accessToken));
    await a.close();
    apps.splice(apps.indexOf(a), 1);
    const restarted = await boot();
    const res = await request(restarted.getHttpServer()).get('/private').set(bearer(pair.accessToken));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('token_revoked');
    expect((await request(restarted.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
  });

  test('logout ends exactly the current session; the sessions list shows only live ones', async () => {
    const app = await boot();
    const http = request(app.getHttpServer());
    const one = await login(app, 'alice');
    const two = await login(app, 'alice');
    const before = await http.get('/auth/sessions').set(bearer(one.accessToken));
    const sid1 = decodeJwt(one.accessToken).sid;
    const sid2 = decodeJwt(two.accessToken).sid;
    expect(before.body.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([sid1, sid2]));
    await http.post('/auth/logout').set(bearer(one.accessToken));
    const after = await http.get('/auth/sessions').set(bearer(two.accessToken));
    const ids = after.body.map((s: { id: string }) => s.id);
    expect(ids).toContain(sid2);
    expect(ids).not.toContain(sid1);
    expect((await http.post('/auth/refresh').send({ refreshToken: two.refreshToken })).status).toBe(200);
  });

  test('purgeExpired deletes revocations whose tokens have expired, and keeps live ones', async () => {
    const app = await boot();
    const auth = app.get(AuthService);
    const short = await auth.createToken({ sub: 'p1' }, { expiresIn: 1 });
    const long = await auth.createToken({ sub: 'p2' });
    await auth.revokeToken(short);
    await auth.revokeToken(long);
    const ds = app.get(DataSource);
    const count = () => ds.query('SELECT COUNT(*) AS n FROM auth_revoked_tokens').then((r: Array<{ n: number | string }>) => Number(r[0].n));
    const before = await count();
    // Real time on purpose: the one-second token must have expired for purgeExpired to delete its revocation.
    await sleep(1100);
    expect(await auth.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await count()).toBe(before - 1);
    expect((await request(app.getHttpServer()).get('/private').set(bearer(long))).body.code).toBe('token_revoked');
  });

  // Fail closed: 3 s of waiting (the minimum bound), so it runs on SQLite only; the gate does not depend on the database kind.
  (target.name === 'sqlite' ? test : test.skip)('an unreadable store fails closed with 503 auth_unavailable after the bound', async () => {
    const app = await boot();
    const pair = await login(app);
    expect((await request(app.getHttpServer()).get('/private').set(bearer(pair.accessToken))).status).toBe(200);
    await app.get(DataSource).destroy();
    // Real time on purpose: until the stale bound (3 s: max(3 × syncIntervalMs, 3 s)) has passed since the last good
    // poll, the gate still answers from memory; the test proves the refusal comes after that bound, not before.
    await sleep(3200);
    const res = await request(app.getHttpServer()).get('/private').set(bearer(pair.accessToken));
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('auth_unavailable');
    expect((await request(app.getHttpServer()).get('/public')).status).toBe(200);
    apps.splice(apps.indexOf(app), 1);
    await app.close();
  });
});
