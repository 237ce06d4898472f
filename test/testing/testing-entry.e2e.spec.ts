import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { AuthService, CurrentUser, PermissionRequired, Public, StaffOnly, SuperuserOnly, type AuthPrincipal } from '../../src/index.js';
import { createTestApp, TestClock, type TestAuthApp } from '../../src/testing/index.js';

@Controller()
class Routes {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Get('health')
  health() {
    return { ok: true };
  }

  @Get('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user;
  }

  @PermissionRequired('articles:read')
  @Get('articles')
  articles() {
    return [];
  }

  @StaffOnly()
  @Get('staff')
  staff() {
    return { staff: true };
  }

  @SuperuserOnly()
  @Get('admin')
  admin() {
    return { admin: true };
  }

  @Post('logout')
  @HttpCode(204)
  async logout() {
    await this.auth.logout();
  }
}

describe.each(['express', 'fastify'] as const)('testing entry point on %s', (adapter) => {
  let t: TestAuthApp;

  beforeAll(async () => {
    t = await createTestApp({ adapter, controllers: [Routes] });
  });
  afterAll(() => t.close());

  test('the real guard: private by default, public opens', async () => {
    await t.request().get('/me').expect(401);
    await t.request().get('/health').expect(200);
  });

  test('as(user) requests with a valid token for that user, permissions and flags included', async () => {
    const res = await t
      .as({ id: 7, username: 'ada', permissions: ['articles:read'] })
      .get('/me')
      .expect(200);
    expect(res.body).toMatchObject({ id: '7', username: 'ada', isStaff: false, isSuperuser: false, permissions: ['articles:read'] });
    await t
      .as({ permissions: ['articles:read'] })
      .get('/articles')
      .expect(200);
    const denied = await t.as({ permissions: [] }).get('/articles').expect(403);
    expect(denied.body.code).toBe('permission_denied');
    await t.as({ isStaff: true }).get('/staff').expect(200);
    await t.as({ isStaff: true }).get('/admin').expect(403);
    await t.as({ isSuperuser: true }).get('/admin').expect(200);
  });

  test('accessToken(user) issues a token the app verifies', async () => {
    const token = t.accessToken({ id: 'u1', permissions: ['articles:read'] });
    const claims = await t.authService.verifyAccessToken(token);
    expect(claims).toMatchObject({ sub: 'u1', permissions: ['articles:read'], is_staff: false });
    await t.as(token).get('/articles').expect(200);
  });

  test('the clock: a token expires when the test moves time, without sleeping', async () => {
    const token = t.accessToken({ id: 'clock-user' }, { expiresIn: 60 });
    await t.as(token).get('/me').expect(200);
    // The clock is real time plus the offset: leave the token a margin a loaded machine cannot eat (real seconds
    // pass between the steps), then move past its end.
    t.clock.advanceSeconds(50);
    await t.as(token).get('/me').expect(200);
    t.clock.advanceSeconds(10);
    const res = await t.as(token).get('/me').expect(401);
    expect(res.body.code).toBe('token_expired');
    t.clock.reset();
  });

  test('session(user) gives a real session: logout revokes its access token; the audit sink recorded it', async () => {
    t.audit.clear();
    const pair = await t.session({ username: 'sam', permissions: ['articles:read'] });
    expect(pair.tokenType).toBe('Bearer');
    await t.as(pair).get('/articles').expect(200);
    await t.as(pair).post('/logout').expect(204);
    const res = await t.as(pair).get('/articles').expect(401);
    expect(res.body.code).toBe('token_revoked');
    expect(t.audit.ofType('login.succeeded')).toHaveLength(1);
    expect(t.audit.ofType('session.ended')).toHaveLength(1);
    expect(JSON.stringify(t.audit.events)).not.toContain(pair.accessToken);
  });

  test('a session ends at refreshTokenTtl of the test clock: refresh is refused after it', async () => {
    const pair = await t.session({ username: 'tess' });
    t.clock.advanceSeconds(1_209_600 + 1);
    await expect(t.authService.refresh(pair.refreshToken)).rejects.toMatchObject({ status: 401 });
    t.clock.reset();
  });

  test('access.denied events are recorded with the route', async () => {
    t.audit.clear();
    await t.as({ id: 'nope' }).get('/admin').expect(403);
    expect(t.audit.last('access.denied')).toMatchObject({ userId: 'nope', route: 'Routes.admin', required: 'superuser' });
  });
});

describe('the controllable revocation store (strict mode)', () => {
  let t: TestAuthApp;
  beforeAll(async () => {
    t = await createTestApp({ auth: { revocation: { consistency: 'strict' } }, controllers: [Routes] });
  });
  afterAll(() => t.close());

  test('a failing store is 503 auth_unavailable, never a 500 or a 401; it recovers', async () => {
    const token = t.accessToken({ id: 's1' });
    await t.as(token).get('/me').expect(200);
    t.revocationStore!.fail();
    const res = await t.as(token).get('/me').expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, code: 'auth_unavailable' });
    t.revocationStore!.recover();
    await t.as(token).get('/me').expect(200);
    expect(t.revocationStore!.calls.isRevoked).toBeGreaterThanOrEqual(3);
  });
});

describe('TestClock', () => {
  test('install makes Date follow the clock; uninstall gives it back; instanceof still holds', () => {
    const clock = new TestClock();
    const before = new Date();
    clock.install();
    try {
      clock.advance(3_600_000);
      expect(Date.now() - before.getTime()).toBeGreaterThanOrEqual(3_600_000);
      expect(new Date().getTime()).toBeGreaterThanOrEqual(before.getTime() + 3_600_000);
      expect(before instanceof Date).toBe(true);
      expect(new Date(0).getTime()).toBe(0);
    } finally {
      clock.uninstall();
    }
    expect(Date.now() - before.getTime()).toBeLessThan(3_600_000);
  });
});
