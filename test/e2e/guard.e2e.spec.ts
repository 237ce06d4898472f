import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { AuthService } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { accessHeader, forgeAccessToken, signText } from '../support/tokens.js';
import { MemoryUsers } from '../support/users.js';

describe.each(ADAPTERS)('global guard on %s', (adapter) => {
  let app: INestApplication;
  let users: MemoryUsers;
  let auth: AuthService;
  let http: ReturnType<typeof request>;
  const tokenOf = (name: string) => auth.createTokenForUser(users.get(name));

  beforeAll(async () => {
    users = await MemoryUsers.create();
    app = await bootApp({ jwt: { secret: SECRET }, users }, { adapter, controllers: ALL_CONTROLLERS });
    auth = app.get(AuthService);
    http = request(app.getHttpServer());
  });
  afterAll(() => app.close());

  describe('private by default', () => {
    test('no credentials: 401 token_missing with a bare Bearer challenge', async () => {
      const res = await http.get('/private');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.any(String), code: 'token_missing' });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    test('another scheme than Bearer counts as no credentials', async () => {
      const res = await http.get('/private').set('Authorization', 'Basic YWxpY2U6c2VjcmV0');
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('token_missing');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    test('a valid token fills request.user and request.auth', async () => {
      const token = await tokenOf('alice');
      const res = await http.get('/context').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body.auth).toMatchObject({
        userId: '1',
        username: 'alice',
        isStaff: false,
        isSuperuser: false,
        permissions: ['articles:read'],
        backend: 'jwt',
      });
      const me = await http.get('/private').set('Authorization', `Bearer ${token}`);
      expect(me.body.user).toEqual({
        id: '1',
        username: 'alice',
        email: 'alice@example.test',
        isStaff: false,
        isSuperuser: false,
        permissions: ['articles:read'],
      });
    });

    test.each([
      ['bearer', 'lower-case scheme'],
      ['BEARER', 'upper-case scheme'],
      ['Bearer   ', 'several spaces'],
    ])('scheme "%s" (%s) is accepted', async (scheme) => {
      const token = await tokenOf('alice');
      const res = await http.get('/private').set('Authorization', `${scheme} ${token}`);
      expect(res.status).toBe(200);
    });
  });

  describe('malformed and bad tokens: 401 token_invalid with error="invalid_token"', () => {
    const cases: Array<[string, () => Promise<string>]> = [
      ['Bearer with no token', async () => 'Bearer'],
      ['Bearer with only spaces', async () => 'Bearer    '],
      ['two tokens', async () => `Bearer ${await tokenOf('alice')} ${await tokenOf('bob')}`],
      ['garbage', async () => 'Bearer not-a-jwt'],
      ['bad signature', async () => `Bearer ${forgeAccessToken({}, {}, 'another-secret-of-at-least-32-bytes!!')}`],
      ['wrong typ', async () => `Bearer ${forgeAccessToken({}, { typ: 'JWT' })}`],
      ['nbf in the future', async () => `Bearer ${forgeAccessToken({ nbf: Math.floor(Date.now() / 1000) + 3600 })}`],
      [
        'iat in the future',
        async () => `Bearer ${forgeAccessToken({ iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 3700 })}`,
      ],
      ['payload not a JSON object', async () => `Bearer ${signText(JSON.stringify(accessHeader()), '[1,2,3]')}`],
    ];
    test.each(cases)('%s', async (_name, header) => {
      const res = await http.get('/private').set('Authorization', await header());
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('token_invalid');
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    });

    test('expired token: 401 token_expired', async () => {
      const now = Math.floor(Date.now() / 1000);
      const res = await http.get('/private').set('Authorization', `Bearer ${forgeAccessToken({ iat: now - 120, exp: now - 60 })}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('token_expired');
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    });
  });

  describe('public routes', () => {
    test('no token: a guest', async () => {
      const res = await http.get('/public');
      expect(res.status).toBe(200);
      expect(res.body.user).toBeNull();
    });
    test('valid token: the principal is filled', async () => {
      const res = await http.get('/public').set('Authorization', `Bearer ${await tokenOf('bob')}`);
      expect(res.status).toBe(200);
      expect(res.body.user.username).toBe('bob');
    });
    test('expired token: treated as a guest', async () => {
      const now = Math.floor(Date.now() / 1000);
      const res = await http.get('/public').set('Authorization', `Bearer ${forgeAccessToken({ iat: now - 120, exp: now - 60 })}`);
      expect(res.status).toBe(200);
      expect(res.body.user).toBeNull();
    });
    test('forged token: treated as a guest', async () => {
      const forged = forgeAccessToken({ is_superuser: true }, {}, 'forged-secret-forged-secret-forged!!');
      const res = await http.get('/public').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(200);
      expect(res.body.user).toBeNull();
    });
    test('@Public on a method opens it inside a class that requires permissions', async () => {
      expect((await http.get('/articles/teaser')).status).toBe(200);
      expect((await http.get('/articles')).status).toBe(401);
    });
  });

  describe('authorization', () => {
    test('class-level permission: held -> 200, lacking -> 403 permission_denied, none -> 401', async () => {
      expect((await http.get('/articles').set('Authorization', `Bearer ${await tokenOf('alice')}`)).status).toBe(200);
      const lacking = await auth.createToken({ sub: '9', permissions: ['other'] });
      const denied = await http.get('/articles').set('Authorization', `Bearer ${lacking}`);
      expect(denied.status).toBe(403);
      expect(denied.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.any(String), code: 'permission_denied' });
      expect((await http.get('/articles')).body.code).toBe('token_missing');
    });

    test('method-level overrides class-level (any of write/publish; read alone is not enough)', async () => {
      const reader = await tokenOf('alice');
      const writer = await tokenOf('bob');
      const publisher = await auth.createToken({ sub: '8', permissions: ['articles:publish'] });
      expect((await http.post('/articles').set('Authorization', `Bearer ${reader}`)).status).toBe(403);
      expect((await http.post('/articles').set('Authorization', `Bearer ${writer}`)).status).toBe(201);
      expect((await http.post('/articles').set('Authorization', `Bearer ${publisher}`)).status).toBe(201);
    });

    test('mode all needs every permission', async () => {
      expect((await http.get('/articles/both').set('Authorization', `Bearer ${await tokenOf('alice')}`)).status).toBe(403);
      expect((await http.get('/articles/both').set('Authorization', `Bearer ${await tokenOf('bob')}`)).status).toBe(200);
    });

    test('a superuser passes every permission check', async () => {
      const root = await tokenOf('root');
      expect((await http.get('/articles').set('Authorization', `Bearer ${root}`)).status).toBe(200);
      expect((await http.post('/articles').set('Authorization', `Bearer ${root}`)).status).toBe(201);
      expect((await http.get('/articles/both').set('Authorization', `Bearer ${root}`)).status).toBe(200);
    });

    test('@StaffOnly: staff and superuser pass, others 403', async () => {
      expect((await http.get('/admin/report').set('Authorization', `Bearer ${await tokenOf('bob')}`)).status).toBe(200);
      expect((await http.get('/admin/report').set('Authorization', `Bearer ${await tokenOf('root')}`)).status).toBe(200);
      expect((await http.get('/admin/report').set('Authorization', `Bearer ${await tokenOf('alice')}`)).status).toBe(403);
      expect((await http.get('/admin/report')).status).toBe(401);
    });

    test('@SuperuserOnly: only a superuser; staff is 403; no token is 401 not 403', async () => {
      expect((await http.get('/admin/stats').set('Authorization', `Bearer ${await tokenOf('root')}`)).status).toBe(200);
      expect((await http.get('/admin/stats').set('Authorization', `Bearer ${await tokenOf('bob')}`)).status).toBe(403);
      const none = await http.get('/admin/stats');
      expect(none.status).toBe(401);
      expect(none.body.code).toBe('token_missing');
    });
  });
});

describe('publicRoutes.invalidToken: reject', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await bootApp({ jwt: { secret: SECRET }, publicRoutes: { invalidToken: 'reject' } }, { controllers: ALL_CONTROLLERS });
  });
  afterAll(() => app.close());

  test('an invalid token on a public route is a 401; no token is still a guest', async () => {
    const http = request(app.getHttpServer());
    const res = await http.get('/public').set('Authorization', 'Bearer x.y.z');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('token_invalid');
    expect((await http.get('/public')).status).toBe(200);
  });
});
