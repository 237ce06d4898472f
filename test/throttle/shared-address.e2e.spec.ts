import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import request from 'supertest';
import type { AuthModuleForRootOptions } from '../../src/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { bootThrottledApp } from '../support/throttle-app.js';
import { bootTrustingProxy } from '../support/trusted-proxy-app.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/** What a browser adds to every request it sends (Fetch Metadata): the device cookie is for browsers. */
const BROWSER = { 'sec-fetch-site': 'same-origin' };

/** Nest's log with its levels: the proxy warning must be one WARN line. */
class LevelLogger implements LoggerService {
  readonly lines: Array<{ level: string; text: string }> = [];
  log = (m: unknown) => void this.lines.push({ level: 'log', text: String(m) });
  error = (m: unknown) => void this.lines.push({ level: 'error', text: String(m) });
  warn = (m: unknown) => void this.lines.push({ level: 'warn', text: String(m) });
  debug = (m: unknown) => void this.lines.push({ level: 'debug', text: String(m) });
  verbose = (m: unknown) => void this.lines.push({ level: 'verbose', text: String(m) });
  text = () => this.lines.map((l) => l.text).join('\n');
}

const deviceCookieOf = (res: request.Response): string | undefined => {
  const cookies = ([] as string[]).concat((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []);
  return cookies.find((c) => c.startsWith('__Host-nest-auth-device='));
};

describe.each(ADAPTERS)('a shared address (NAT, an untrusted proxy) on %s', (adapter) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  const boot = async (
    loginThrottle: AuthModuleForRootOptions['loginThrottle'],
    logger?: LoggerService,
    extra: Partial<AuthModuleForRootOptions> = {},
  ) => {
    app = await bootThrottledApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle, ...extra },
      { controllers: ALL_CONTROLLERS, adapter, logger },
    );
    return request(app.getHttpServer());
  };

  test("a valid refresh token is never refused for others' junk tokens from its address", async () => {
    const http = await boot({ refreshPerIp: { limit: 2, windowSeconds: 60 }, pacingMs: false });
    const { refreshToken } = (await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })).body;
    const junk = async () => (await http.post('/auth/refresh').send({ refreshToken: 'not.a.token' })).status;
    expect([await junk(), await junk(), await junk()]).toEqual([401, 401, 429]);
    const valid = await http.post('/auth/refresh').send({ refreshToken });
    expect(valid.status).toBe(200);
    expect(valid.body.accessToken).toEqual(expect.any(String));
    // The address stays limited for what fails.
    expect(await junk()).toBe(429);
  });

  test('a browser that logged in before gets in with its device cookie while its address is over the per-IP limit; counted per device', async () => {
    const http = await boot({
      perIp: { limit: 3, windowSeconds: 60 },
      deviceCookie: { perDevice: { limit: 2, windowSeconds: 60 } },
      pacingMs: false,
    });
    const first = await http.post('/auth/login').set(BROWSER).send({ username: 'alice', password: PASSWORDS.alice });
    expect(first.status).toBe(200);
    const cookie = deviceCookieOf(first)!;
    expect(cookie).toMatch(/^__Host-nest-auth-device=[\w-]+\.\d+\.[\w-]+; Max-Age=31536000; Path=\/; .*HttpOnly; Secure; SameSite=Strict$/);
    // A client that is not a browser gets no device cookie.
    expect(deviceCookieOf(await http.post('/auth/login').send({ username: 'bob', password: PASSWORDS.bob }))).toBeUndefined();

    // Someone else at the same address sprays made-up names: the address is over its limit.
    for (let i = 0; i < 3; i++) expect((await http.post('/auth/login').send({ username: `nobody-${i}`, password: 'x' })).status).toBe(401);
    expect((await http.post('/auth/login').set(BROWSER).send({ username: 'alice', password: PASSWORDS.alice })).status).toBe(429);

    const withCookie = (username: string, password: string, value = cookie.split(';')[0]) =>
      http.post('/auth/login').set(BROWSER).set('Cookie', value).send({ username, password });
    // Alice's browser, known: in, and its cookie renewed.
    const known = await withCookie('alice', PASSWORDS.alice);
    expect(known.status).toBe(200);
    expect(deviceCookieOf(known)?.split('.')[0]).toBe(cookie.split('.')[0]);
    // The cookie names alice's account only, and only as the module signed it.
    expect((await withCookie('bob', PASSWORDS.bob)).status).toBe(429);
    const tampered = cookie.split(';')[0].replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 1}.`);
    expect((await withCookie('alice', PASSWORDS.alice, tampered)).status).toBe(429);
    // Failures with it are counted per device: over perDevice, the device is any other client (over the IP's limit).
    expect((await withCookie('alice', 'wrong')).status).toBe(401);
    expect((await withCookie('alice', 'wrong')).status).toBe(401);
    expect((await withCookie('alice', PASSWORDS.alice)).status).toBe(429);
  });

  test('device cookies are on by default where the app keeps sessions in cookies, off elsewhere; false or true decide', async () => {
    const browserLogin = async (loginThrottle: AuthModuleForRootOptions['loginThrottle'], cookies: boolean) => {
      const http = await boot(loginThrottle, undefined, cookies ? { cookies: { enabled: true } } : {});
      const res = await http.post('/auth/login').set(BROWSER).send({ username: 'alice', password: PASSWORDS.alice });
      expect(res.status).toBe(200);
      await app!.close();
      app = undefined;
      return deviceCookieOf(res) !== undefined;
    };
    expect(await browserLogin({}, true)).toBe(true);
    expect(await browserLogin({}, false)).toBe(false);
    expect(await browserLogin({ deviceCookie: false }, true)).toBe(false);
    expect(await browserLogin({ deviceCookie: true }, false)).toBe(true);
  });

  test('forwarded headers from a peer the app does not trust: one WARN, once; none once the proxy is trusted', async () => {
    const logger = new LevelLogger();
    let http = await boot({ pacingMs: false }, logger);
    for (let i = 0; i < 3; i++)
      await http.post('/auth/login').set('X-Forwarded-For', `203.0.113.${i}`).send({ username: 'alice', password: 'wrong' });
    const warnings = logger.lines.filter((l) => l.text.includes('X-Forwarded-For'));
    expect(warnings).toEqual([{ level: 'warn', text: expect.stringContaining('trust proxy') }]);
    // The header's value (the client's to write) is not logged.
    expect(logger.text()).not.toContain('203.0.113');
    await app!.close();

    const trusting = new LevelLogger();
    app = await bootTrustingProxy(
      adapter,
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle: { pacingMs: false } },
      { logger: trusting },
    );
    http = request(app.getHttpServer());
    await http.post('/auth/login').set('X-Forwarded-For', '203.0.113.9').send({ username: 'alice', password: 'wrong' });
    expect(trusting.lines.filter((l) => l.text.includes('X-Forwarded-For'))).toEqual([]);
  });
});
