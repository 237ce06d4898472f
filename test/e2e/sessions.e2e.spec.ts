import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { AuthService, type AuditEvent } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { bearer, login } from '../support/http.js';
import { sleep } from '../support/time.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

describe.each(ADAPTERS)('sessions on the memory store, %s', (adapter) => {
  let app: INestApplication;
  let users: MemoryUsers;
  let http: ReturnType<typeof request>;
  const events: AuditEvent[] = [];

  beforeAll(async () => {
    users = await MemoryUsers.create();
    app = await bootApp({ jwt: { secret: SECRET }, users, audit: { emit: (e) => void events.push(e) } }, { adapter, controllers: ALL_CONTROLLERS });
    http = request(app.getHttpServer());
  });
  afterAll(() => app.close());

  test('refresh rotates: new pair for the same session, the old refresh token stops working', async () => {
    const first = await login(app);
    const res = await http.post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.accessToken).sid).toBe(decodeJwt(first.accessToken).sid);
    expect(res.body.refreshToken).not.toBe(first.refreshToken);
    expect((await http.get('/private').set(bearer(res.body.accessToken))).status).toBe(200);
    expect(events.some((e) => e.type === 'token.refreshed')).toBe(true);
  });

  test('reuse of a rotated-out refresh token ends the whole session, access tokens included', async () => {
    const first = await login(app);
    const second = (await http.post('/auth/refresh').send({ refreshToken: first.refreshToken })).body;
    const reuse = await http.post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('token_revoked');
    expect(events.some((e) => e.type === 'refresh.reuse_detected' && e.sessionId === decodeJwt(first.accessToken).sid)).toBe(true);
    // The live pair of that session is dead too.
    expect((await http.post('/auth/refresh').send({ refreshToken: second.refreshToken })).status).toBe(401);
    const me = await http.get('/private').set(bearer(second.accessToken));
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('token_revoked');
    expect((await http.get('/private').set(bearer(first.accessToken))).body.code).toBe('token_revoked');
  });

  test('a refresh token is not an access token, and the reverse', async () => {
    const pair = await login(app);
    const asAccess = await http.get('/private').set(bearer(pair.refreshToken));
    expect(asAccess.status).toBe(401);
    expect(asAccess.body.code).toBe('token_invalid');
    const asRefresh = await http.post('/auth/refresh').send({ refreshToken: pair.accessToken });
    expect(asRefresh.status).toBe(401);
    expect(asRefresh.body.code).toBe('token_invalid');
  });

  test('refreshCurrentSessionToken reloads the user: changed permissions and username show, same sid', async () => {
    const pair = await login(app, 'alice');
    const alice = users.get('alice');
    const before = { permissions: alice.permissions, username: alice.username };
    alice.permissions = ['articles:read', 'articles:write'];
    alice.username = 'alice2';
    try {
      const res = await http.post('/auth/refresh-current').set(bearer(pair.accessToken));
      expect(res.status).toBe(200);
      const claims = decodeJwt(res.body.accessToken);
      expect(claims).toMatchObject({ sid: decodeJwt(pair.accessToken).sid, username: 'alice2', permissions: ['articles:read', 'articles:write'] });
      // The refresh token it replaced is rotated out, exactly as by refresh().
      expect((await http.post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
    } finally {
      Object.assign(alice, before);
    }
  });

  test('refreshCurrentSessionToken needs a session token', async () => {
    const token = await app.get(AuthService).createTokenForUser(users.get('alice'));
    const res = await http.post('/auth/refresh-current').set(bearer(token));
    expect(res.status).toBe(401);
    // Refused as logout() refuses a caller that is not a session (issue 21 item 8).
    expect(res.body.code).toBe('token_missing');
  });

  test('logout ends exactly the current session', async () => {
    const a = await login(app);
    const b = await login(app);
    expect((await http.post('/auth/logout').set(bearer(a.accessToken))).status).toBe(204);
    expect((await http.get('/private').set(bearer(a.accessToken))).body.code).toBe('token_revoked');
    expect((await http.post('/auth/refresh').send({ refreshToken: a.refreshToken })).status).toBe(401);
    expect((await http.get('/private').set(bearer(b.accessToken))).status).toBe(200);
    expect((await http.post('/auth/refresh').send({ refreshToken: b.refreshToken })).status).toBe(200);
    expect(events.some((e) => e.type === 'session.ended' && e.reason === 'logout')).toBe(true);
  });

  test("logout-all ends every session of the user and nobody else's; a new login right after works", async () => {
    const a1 = await login(app, 'alice');
    const a2 = await login(app, 'alice');
    const b = await login(app, 'bob');
    const sessions = await http.get('/auth/sessions').set(bearer(a1.accessToken));
    expect(sessions.status).toBe(200);
    expect(sessions.body.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect(JSON.stringify(sessions.body)).not.toContain(a1.refreshToken);
    expect((await http.post('/auth/logout-all').set(bearer(a1.accessToken))).status).toBe(204);
    for (const pair of [a1, a2]) {
      expect((await http.get('/private').set(bearer(pair.accessToken))).body.code).toBe('token_revoked');
      expect((await http.post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
    }
    expect((await http.get('/private').set(bearer(b.accessToken))).status).toBe(200);
    const again = await login(app, 'alice');
    expect((await http.get('/private').set(bearer(again.accessToken))).status).toBe(200);
    expect((await http.post('/auth/refresh').send({ refreshToken: again.refreshToken })).status).toBe(200);
  });

  test('revokeAllForUser refuses a non-session token issued before it', async () => {
    const auth = app.get(AuthService);
    const token = await auth.createTokenForUser(users.get('bob'));
    await auth.revokeAllForUser('2');
    expect((await http.get('/private').set(bearer(token))).body.code).toBe('token_revoked');
  });
});

describe('refreshReuseGraceSeconds', () => {
  test('a rotated-out refresh token back within the grace period is refused without ending the session', async () => {
    const users = await MemoryUsers.create();
    const events: AuditEvent[] = [];
    const app = await bootApp(
      { jwt: { secret: SECRET, refreshReuseGraceSeconds: 30 }, users, audit: { emit: (e) => void events.push(e) } },
      { controllers: ALL_CONTROLLERS },
    );
    try {
      const http = request(app.getHttpServer());
      const first = (await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).body;
      const second = (await http.post('/auth/refresh').send({ refreshToken: first.refreshToken })).body;
      const raced = await http.post('/auth/refresh').send({ refreshToken: first.refreshToken });
      expect(raced.status).toBe(401);
      expect(raced.body.code).toBe('token_revoked');
      expect(events.some((e) => e.type === 'refresh.reuse_detected')).toBe(false);
      // The session lives on: the pair the other tab got still works.
      expect((await http.get('/private').set('Authorization', `Bearer ${second.accessToken}`)).status).toBe(200);
      expect((await http.post('/auth/refresh').send({ refreshToken: second.refreshToken })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  test('with the default grace of 0, the same race ends the session', async () => {
    const users = await MemoryUsers.create();
    const app = await bootApp({ jwt: { secret: SECRET }, users }, { controllers: ALL_CONTROLLERS });
    try {
      const http = request(app.getHttpServer());
      const first = (await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).body;
      const second = (await http.post('/auth/refresh').send({ refreshToken: first.refreshToken })).body;
      expect((await http.post('/auth/refresh').send({ refreshToken: first.refreshToken })).status).toBe(401);
      expect((await http.get('/private').set('Authorization', `Bearer ${second.accessToken}`)).body.code).toBe('token_revoked');
    } finally {
      await app.close();
    }
  });
});

describe('session lifetime', () => {
  test.each([
    [false, 'counts from login: a refresh does not extend the session'],
    [true, 'with slidingSessions, counts from the last refresh'],
  ])('slidingSessions %s %s', async (sliding) => {
    const users = await MemoryUsers.create();
    const app = await bootApp({ jwt: { secret: SECRET, refreshTokenTtl: 60, slidingSessions: sliding }, users }, { controllers: ALL_CONTROLLERS });
    try {
      const http = request(app.getHttpServer());
      const first = (await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).body;
      expect(first.refreshExpiresIn).toBe(60);
      // Real time on purpose: a whole second must pass for the remaining lifetime to show it (or, sliding, not).
      await sleep(1100);
      const second = (await http.post('/auth/refresh').send({ refreshToken: first.refreshToken })).body;
      if (sliding) expect(second.refreshExpiresIn).toBe(60);
      else expect(second.refreshExpiresIn).toBeLessThan(60);
    } finally {
      await app.close();
    }
  });
});
