import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { AuthService, type AuditEvent } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { CapturingLogger } from '../support/logger.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

describe('login', () => {
  let app: INestApplication;
  let users: MemoryUsers;
  let http: ReturnType<typeof request>;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    users = await MemoryUsers.create();
    app = await bootApp(
      { jwt: { secret: SECRET, issuer: 'https://auth.example.test', audience: 'api' }, users },
      { controllers: ALL_CONTROLLERS, logger },
    );
    http = request(app.getHttpServer());
  });
  afterAll(() => app.close());

  test('success returns a full TokenPair whose access token carries the claims of API.md', async () => {
    const res = await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshExpiresIn: 1209600,
    });
    expect(decodeProtectedHeader(res.body.accessToken)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
    const claims = decodeJwt(res.body.accessToken);
    expect(claims).toEqual({
      sub: '1',
      username: 'alice',
      email: 'alice@example.test',
      is_staff: false,
      is_superuser: false,
      permissions: ['articles:read'],
      sid: expect.any(String),
      jti: expect.any(String),
      iat: expect.any(Number),
      exp: expect.any(Number),
      iss: 'https://auth.example.test',
      aud: 'api',
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    const refreshHeader = decodeProtectedHeader(res.body.refreshToken);
    expect(refreshHeader.typ).not.toBe('at+jwt');
    expect(decodeJwt(res.body.refreshToken).sid).toBe(claims.sid);
    const me = await http.get('/private').set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(me.status).toBe(200);
  });

  test('unknown user, wrong password and inactive user give the same 401 body', async () => {
    const unknown = await http.post('/auth/login').send({ username: 'nobody', password: 'whatever-password' });
    const wrong = await http.post('/auth/login').send({ username: 'alice', password: 'not-her-password' });
    const inactive = await http.post('/auth/login').send({ username: 'carol', password: PASSWORDS.carol });
    for (const res of [unknown, wrong, inactive]) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    expect(unknown.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid username or password', code: 'invalid_credentials' });
    expect(wrong.body).toEqual(unknown.body);
    expect(inactive.body).toEqual(unknown.body);
  });

  test.each([
    [{ password: 'x' }, 'username'],
    [{ username: 'alice' }, 'password'],
    [{ username: '', password: 'x' }, 'username'],
    [{ username: 'a'.repeat(151), password: 'x' }, 'username'],
    [{ username: 'alice', password: 'p'.repeat(1025) }, 'password'],
    [{ username: 42, password: 'x' }, 'username'],
  ])('a bad body %j is a 400 that names %s', async (body, field) => {
    const res = await http.post('/auth/login').send(body);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.message)).toContain(field);
  });

  test('no response body and no log line contains a token, a password or a hash', async () => {
    const ok = await http.post('/auth/login').send({ username: 'bob', password: PASSWORDS.bob });
    await http.post('/auth/login').send({ username: 'bob', password: 'bob-wrong-password' });
    const me = await http.get('/private').set('Authorization', `Bearer ${ok.body.accessToken}`);
    const ctx = await http.get('/context').set('Authorization', `Bearer ${ok.body.accessToken}`);
    const denied = await http.get('/admin/stats').set('Authorization', `Bearer ${ok.body.accessToken}`);
    const bodies = [me, ctx, denied].map((r) => JSON.stringify(r.body)).join('\n');
    const secrets = [ok.body.accessToken, ok.body.refreshToken, PASSWORDS.bob, 'bob-wrong-password', users.get('bob').passwordHash, 'test-sha256$'];
    for (const s of secrets) {
      expect(bodies).not.toContain(s);
      expect(logger.text).not.toContain(s);
    }
    expect(logger.text).toContain('login.succeeded');
    expect(logger.text).toContain('login.failed');
    expect(logger.text).toContain('access.denied');
  });
});

describe('audit events come from the core', () => {
  test('login.succeeded, login.failed (with a reason), access.denied go to the configured sink', async () => {
    const events: AuditEvent[] = [];
    const users = await MemoryUsers.create();
    const app = await bootApp({ jwt: { secret: SECRET }, users, audit: { emit: (e) => void events.push(e) } }, { controllers: ALL_CONTROLLERS });
    try {
      const http = request(app.getHttpServer());
      const ok = await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
      await http.post('/auth/login').send({ username: 'alice', password: 'wrong-password!' });
      await http.post('/auth/login').send({ username: 'ghost', password: 'wrong-password!' });
      await http.post('/auth/login').send({ username: 'carol', password: PASSWORDS.carol });
      await http.get('/admin/stats').set('Authorization', `Bearer ${ok.body.accessToken}`);
      expect(events.map((e) => [e.type, e.reason])).toEqual([
        ['login.succeeded', undefined],
        ['login.failed', 'bad_password'],
        ['login.failed', 'unknown_user'],
        ['login.failed', 'inactive'],
        ['access.denied', 'lacks_permission'],
      ]);
      expect(events[0]).toMatchObject({ userId: '1', username: 'alice', sessionId: expect.any(String) });
      expect(events[4]).toMatchObject({ userId: '1', route: 'AdminController.stats', required: 'superuser' });
      expect(JSON.stringify(events)).not.toContain('wrong-password!');
      // AuthService offers no way for the app to write an audit event.
      const service = app.get(AuthService) as unknown as Record<string, unknown>;
      expect(Object.getOwnPropertyNames(Object.getPrototypeOf(service)).filter((n) => /audit|emit/i.test(n))).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('a failing audit sink', () => {
  test('never turns a login or a request into a 500', async () => {
    const users = await MemoryUsers.create();
    const logger = new CapturingLogger();
    const app = await bootApp(
      {
        jwt: { secret: SECRET },
        users,
        audit: {
          emit: () => {
            throw new Error('sink down');
          },
        },
      },
      { controllers: ALL_CONTROLLERS, logger },
    );
    try {
      const http = request(app.getHttpServer());
      const ok = await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
      expect(ok.status).toBe(200);
      expect((await http.post('/auth/login').send({ username: 'alice', password: 'nope-nope' })).status).toBe(401);
      expect((await http.get('/admin/stats').set('Authorization', `Bearer ${ok.body.accessToken}`)).status).toBe(403);
      expect(logger.text).toContain('audit sink failed: sink down');
    } finally {
      await app.close();
    }
  });
});
