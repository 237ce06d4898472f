import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Delete, Patch, Put, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ApiKeyService, type AuditEvent, type AuthModuleOptions } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { cookieNamed, setCookiesOf } from '../support/cookies.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

const HOST = 'app.test:8080';
const OWN = `http://${HOST}`;
const TRUSTED = 'https://spa.example.com';
const ACCESS = '__Host-access';
const REFRESH = '__Secure-refresh';
const CSRF = '__Host-csrf';

/** State-changing methods other than POST. */
@Controller('things')
class ThingsController {
  @Put()
  put() {
    return { ok: true };
  }

  @Patch()
  patch() {
    return { ok: true };
  }

  @Delete()
  remove() {
    return { ok: true };
  }
}

interface Session {
  access: string;
  refresh: string;
  csrf: string;
  body: Record<string, unknown>;
}

async function boot(adapter: Adapter, cookies: Partial<NonNullable<AuthModuleOptions['cookies']>> = {}, events: AuditEvent[] = []) {
  const users = await MemoryUsers.create();
  const app = await bootApp(
    {
      jwt: { secret: SECRET },
      users,
      apiKeys: { enabled: true },
      audit: { emit: (e) => void events.push(e) },
      cookies: { enabled: true, csrf: { trustedOrigins: [TRUSTED] }, ...cookies },
    },
    { adapter, controllers: [...ALL_CONTROLLERS, ThingsController] },
  );
  return app;
}

describe.each(ADAPTERS)('cookie transport and CSRF, %s', (adapter) => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  const events: AuditEvent[] = [];

  // Every request names the app's host, as a browser would: the app's own origin is http://app.test:8080.
  const post = (path: string) => http.post(path).set('Host', HOST);
  const get = (path: string) => http.get(path).set('Host', HOST);
  const jar = (s: Session, withRefresh = false) =>
    [`${ACCESS}=${s.access}`, `${CSRF}=${s.csrf}`, ...(withRefresh ? [`${REFRESH}=${s.refresh}`] : [])].join('; ');

  async function login(username: keyof typeof PASSWORDS = 'alice', origin = OWN): Promise<Session> {
    const res = await post('/auth/login').set('Origin', origin).send({ username, password: PASSWORDS[username] });
    expect(res.status).toBe(200);
    return {
      access: cookieNamed(res, ACCESS)!.value,
      refresh: cookieNamed(res, REFRESH)!.value,
      csrf: cookieNamed(res, CSRF)!.value,
      body: res.body,
    };
  }

  beforeAll(async () => {
    app = await boot(adapter, {}, events);
    http = request(app.getHttpServer());
  });
  afterAll(() => app.close());

  test('login sets the access, refresh and CSRF cookies with their flags', async () => {
    const res = await post('/auth/login').set('Origin', OWN).send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(200);
    const access = cookieNamed(res, ACCESS)!;
    expect(access.attrs).toMatchObject({ httponly: true, secure: true, samesite: 'Lax', path: '/', 'max-age': '900' });
    expect(access.attrs.domain).toBeUndefined();
    const refresh = cookieNamed(res, REFRESH)!;
    expect(refresh.attrs).toMatchObject({ httponly: true, secure: true, samesite: 'Lax', path: '/auth/refresh', 'max-age': '1209600' });
    const csrf = cookieNamed(res, CSRF)!;
    expect(csrf.attrs).toMatchObject({ secure: true, samesite: 'Lax', path: '/' });
    expect(csrf.attrs.httponly).toBeUndefined();
    // A browser request (it sent Origin) gets no token in the body: only the CSRF token and the lifetimes.
    expect(res.body).toEqual({ tokenType: 'Bearer', expiresIn: 900, refreshExpiresIn: 1209600, csrfToken: csrf.value });
  });

  test('an API client (no Origin, no Fetch Metadata) still gets the pair in the body', async () => {
    const res = await post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(200);
    expect(typeof res.body.accessToken).toBe('string');
    expect(typeof res.body.refreshToken).toBe('string');
    const me = await get('/private').set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(me.body.user.username).toBe('alice');
  });

  test('the access cookie authenticates; a GET needs no CSRF token', async () => {
    const s = await login('alice');
    const res = await get('/private').set('Cookie', jar(s));
    expect(res.status).toBe(200);
    expect(res.body.user.username).toBe('alice');
  });

  test('a POST authenticated by the cookie needs the CSRF header', async () => {
    const s = await login('bob');
    const none = await post('/articles').set('Cookie', jar(s)).set('Origin', OWN);
    expect(none.status).toBe(403);
    expect(none.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.any(String), code: 'csrf_failed' });
    const wrong = await post('/articles').set('Cookie', jar(s)).set('Origin', OWN).set('x-csrf-token', 'A'.repeat(43));
    expect(wrong.body.code).toBe('csrf_failed');
    const ok = await post('/articles').set('Cookie', jar(s)).set('Origin', OWN).set('x-csrf-token', s.csrf);
    expect(ok.status).toBe(201);
    expect(events.some((e) => e.type === 'access.denied' && e.reason === 'csrf_failed:csrf_token_missing')).toBe(true);
  });

  test('the CSRF token is bound to its session: another session of the same user does not pass', async () => {
    const a = await login('bob');
    const b = await login('bob');
    expect(a.csrf).not.toBe(b.csrf);
    const res = await post('/articles').set('Cookie', jar(a)).set('Origin', OWN).set('x-csrf-token', b.csrf);
    expect(res.body.code).toBe('csrf_failed');
  });

  test('PUT, PATCH and DELETE are checked too', async () => {
    const s = await login('alice');
    for (const method of ['put', 'patch', 'delete'] as const) {
      const res = await http[method]('/things').set('Host', HOST).set('Cookie', jar(s)).set('Origin', OWN);
      expect([method, res.body.code]).toEqual([method, 'csrf_failed']);
      const ok = await http[method]('/things').set('Host', HOST).set('Cookie', jar(s)).set('Origin', OWN).set('x-csrf-token', s.csrf);
      expect([method, ok.status]).toEqual([method, 200]);
    }
  });

  test('a foreign Origin is refused even with the right token; a trusted one passes', async () => {
    const s = await login('bob');
    const foreign = await post('/articles').set('Cookie', jar(s)).set('Origin', 'http://app.test:9090').set('x-csrf-token', s.csrf);
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('csrf_failed');
    const nullOrigin = await post('/articles').set('Cookie', jar(s)).set('Origin', 'null').set('x-csrf-token', s.csrf);
    expect(nullOrigin.body.code).toBe('csrf_failed');
    const trusted = await post('/articles').set('Cookie', jar(s)).set('Origin', TRUSTED).set('x-csrf-token', s.csrf);
    expect(trusted.status).toBe(201);
  });

  test('without Origin, Sec-Fetch-Site decides', async () => {
    const s = await login('bob');
    for (const site of ['cross-site', 'same-site']) {
      const res = await post('/articles').set('Cookie', jar(s)).set('Sec-Fetch-Site', site).set('x-csrf-token', s.csrf);
      expect([site, res.body.code]).toEqual([site, 'csrf_failed']);
    }
    const same = await post('/articles').set('Cookie', jar(s)).set('Sec-Fetch-Site', 'same-origin').set('x-csrf-token', s.csrf);
    expect(same.status).toBe(201);
  });

  test('bearer and API-key requests need no CSRF token; the header wins over the cookie', async () => {
    const alice = await login('alice');
    const bob = await post('/auth/login').send({ username: 'bob', password: PASSWORDS.bob });
    const res = await post('/articles').set('Cookie', jar(alice)).set('Authorization', `Bearer ${bob.body.accessToken}`);
    expect(res.status).toBe(201); // bob's bearer token, no CSRF token, alice's cookie ignored
    const me = await get('/private').set('Cookie', jar(alice)).set('Authorization', `Bearer ${bob.body.accessToken}`);
    expect(me.body.user.username).toBe('bob');
    // A bad header is not rescued by a good cookie.
    const bad = await get('/private').set('Cookie', jar(alice)).set('Authorization', 'Bearer nope');
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe('token_invalid');
    const { key } = await app.get(ApiKeyService).create({ name: 'ci', permissions: ['articles:write'] });
    const withKey = await post('/articles').set('Cookie', jar(alice)).set('x-api-key', key);
    expect(withKey.status).toBe(201);
  });

  test('a public route treats a cookie that fails the CSRF check as a guest', async () => {
    const s = await login('alice');
    // The login route is public and a POST: a stale page that posts without the header is a guest, not a 403.
    const res = await post('/auth/login').set('Cookie', jar(s)).set('Origin', OWN).send({ username: 'bob', password: PASSWORDS.bob });
    expect(res.status).toBe(200);
  });

  test('malformed and unknown access cookies are 401 with a code', async () => {
    const junk = await get('/private').set('Cookie', `${ACCESS}=not-a-token`);
    expect(junk.status).toBe(401);
    expect(junk.body.code).toBe('token_invalid');
    const none = await get('/private').set('Cookie', 'other=1');
    expect(none.body.code).toBe('token_missing');
  });

  test('login refuses a foreign Origin (login CSRF) and a cross-site fetch; a trusted origin may log in', async () => {
    const foreign = await post('/auth/login').set('Origin', 'http://evil.test').send({ username: 'alice', password: PASSWORDS.alice });
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('csrf_failed');
    expect(setCookiesOf(foreign)).toEqual([]);
    const crossSite = await post('/auth/login').set('Sec-Fetch-Site', 'cross-site').send({ username: 'alice', password: PASSWORDS.alice });
    expect(crossSite.body.code).toBe('csrf_failed');
    const trusted = await post('/auth/login').set('Origin', TRUSTED).send({ username: 'alice', password: PASSWORDS.alice });
    expect(trusted.status).toBe(200);
  });

  test('refresh() with no argument reads the refresh cookie, after the CSRF check, and rotates the cookies', async () => {
    const s = await login('alice');
    const noHeader = await post('/auth/refresh').set('Cookie', jar(s, true)).set('Origin', OWN).send({});
    expect(noHeader.status).toBe(403);
    expect(noHeader.body.code).toBe('csrf_failed');
    const foreign = await post('/auth/refresh').set('Cookie', jar(s, true)).set('Origin', 'http://evil.test').set('x-csrf-token', s.csrf).send({});
    expect(foreign.body.code).toBe('csrf_failed');
    const res = await post('/auth/refresh').set('Cookie', jar(s, true)).set('Origin', OWN).set('x-csrf-token', s.csrf).send({});
    expect(res.status).toBe(200);
    const access = cookieNamed(res, ACCESS)!.value;
    const refresh = cookieNamed(res, REFRESH)!.value;
    expect(refresh).not.toBe(s.refresh);
    // The CSRF token belongs to the session, so it stays the same across rotations.
    expect(cookieNamed(res, CSRF)!.value).toBe(s.csrf);
    expect(res.body.accessToken).toBeUndefined();
    expect((await get('/private').set('Cookie', `${ACCESS}=${access}`)).status).toBe(200);
  });

  test('a replayed refresh cookie ends the session and clears the cookies', async () => {
    const s = await login('alice');
    const rotated = await post('/auth/refresh').set('Cookie', jar(s, true)).set('Origin', OWN).set('x-csrf-token', s.csrf).send({});
    const fresh = cookieNamed(rotated, ACCESS)!.value;
    const replay = await post('/auth/refresh').set('Cookie', jar(s, true)).set('Origin', OWN).set('x-csrf-token', s.csrf).send({});
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('token_revoked');
    const cleared = setCookiesOf(replay);
    expect(cleared.map((c) => [c.name, c.value, c.attrs['max-age']])).toEqual([
      [ACCESS, '', '0'],
      [REFRESH, '', '0'],
      [CSRF, '', '0'],
    ]);
    const me = await get('/private').set('Cookie', `${ACCESS}=${fresh}`);
    expect(me.body.code).toBe('token_revoked');
  });

  test('refresh with a body token is an API client: no CSRF token needed', async () => {
    const pair = (await post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).body;
    const res = await post('/auth/refresh').send({ refreshToken: pair.refreshToken });
    expect(res.status).toBe(200);
    expect(typeof res.body.accessToken).toBe('string');
  });

  test('logout and logout-all clear the cookies and end the session', async () => {
    const s = await login('alice');
    const out = await post('/auth/logout').set('Cookie', jar(s)).set('Origin', OWN).set('x-csrf-token', s.csrf);
    expect(out.status).toBe(204);
    expect(setCookiesOf(out).map((c) => [c.name, c.attrs['max-age']])).toEqual([
      [ACCESS, '0'],
      [REFRESH, '0'],
      [CSRF, '0'],
    ]);
    expect(cookieNamed(out, REFRESH)!.attrs.path).toBe('/auth/refresh');
    expect((await get('/private').set('Cookie', jar(s))).body.code).toBe('token_revoked');

    const a = await login('bob');
    const b = await login('bob');
    const all = await post('/auth/logout-all').set('Cookie', jar(a)).set('Origin', OWN).set('x-csrf-token', a.csrf);
    expect(all.status).toBe(204);
    expect(setCookiesOf(all)).toHaveLength(3);
    expect((await get('/private').set('Cookie', jar(b))).body.code).toBe('token_revoked');
    // Without the CSRF token, logout is refused: a foreign page cannot sign the victim out.
    const c = await login('bob');
    expect((await post('/auth/logout').set('Cookie', jar(c)).set('Origin', 'http://evil.test')).body.code).toBe('csrf_failed');
  });
});

describe.each(ADAPTERS)('cookie options on a live app, %s', (adapter) => {
  test("tokensInBody 'never' and 'always'; a domain drops the __Host- prefix", async () => {
    const never = await boot(adapter, { tokensInBody: 'never' });
    const a = await request(never.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(a.body.accessToken).toBeUndefined();
    expect(typeof a.body.csrfToken).toBe('string');
    await never.close();

    const always = await boot(adapter, { tokensInBody: 'always', domain: 'example.com', sameSite: 'strict' });
    const b = await request(always.getHttpServer())
      .post('/auth/login')
      .set('Host', 'www.example.com')
      .set('Origin', 'http://www.example.com')
      .send({ username: 'alice', password: PASSWORDS.alice });
    expect(typeof b.body.accessToken).toBe('string');
    expect(setCookiesOf(b).map((c) => [c.name, c.attrs.domain, c.attrs.samesite])).toEqual([
      // The login throttle's device cookie (loginThrottle.deviceCookie): host-only whatever the domain.
      ['__Host-nest-auth-device', undefined, 'Strict'],
      ['__Secure-access', 'example.com', 'Strict'],
      ['__Secure-refresh', 'example.com', 'Strict'],
      ['__Secure-csrf', 'example.com', 'Strict'],
    ]);
    await always.close();
  });

  test('cookies disabled: no cookie is set and a cookie is not a credential', async () => {
    const users = await MemoryUsers.create();
    const app = await bootApp({ jwt: { secret: SECRET }, users }, { adapter, controllers: ALL_CONTROLLERS });
    const http = request(app.getHttpServer());
    const res = await http.post('/auth/login').set('Origin', 'http://evil.test').send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(200);
    expect(setCookiesOf(res)).toEqual([]);
    const me = await http.get('/private').set('Cookie', `${ACCESS}=${res.body.accessToken}`);
    expect(me.body.code).toBe('token_missing');
    await app.close();
  });

  test('a bad cookies option fails the boot naming it', async () => {
    await expect(boot(adapter, { sameSite: 'none' as 'lax' })).rejects.toThrow('cookies.sameSite');
  });
});
