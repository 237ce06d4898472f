import 'reflect-metadata';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { eventually, launchBrowser, type Browser } from '../support/browser.js';
import { describeWith } from '../support/services.js';

/**
 * The sample app's page in a real Chromium: sign in, reload, silent refresh after the access cookie
 * expires, sign out, sign out everywhere from a second browser, the cookie flags as the browser holds them,
 * and a page on another origin (another port of the same host: same-site, so SameSite=Lax does not stop it)
 * that tries forms and fetches against the app.
 */
const ACCESS_TTL = 2;
const run = describeWith('the browser tests of the sample page', 'chromium');

run('sample page in Chromium', () => {
  let app: INestApplication;
  let evil: Server;
  let appUrl: string;
  let evilUrl: string;
  let dataDir: string;
  let first: Browser;
  let second: Browser;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'nest-auth-sample-'));
    process.env.SAMPLE_DB = join(dataDir, 'sample.sqlite');
    process.env.ACCESS_TOKEN_TTL = String(ACCESS_TTL);
    process.env.JWT_SECRET = 'browser-test-secret-0123456789-0123456789';
    const { createSampleApp } = await import('../../sample-app/src/bootstrap.js');
    app = await createSampleApp({ logger: false });
    await app.listen(0, '127.0.0.1');
    // localhost, not 127.0.0.1: the name the person types, and a secure context for Secure and __Host- cookies.
    appUrl = `http://localhost:${(app.getHttpServer().address() as AddressInfo).port}`;
    evil = await serveEvilPages(appUrl);
    evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}`;
    [first, second] = await Promise.all([launchBrowser(), launchBrowser()]);
  }, 120000);

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await new Promise((r) => evil?.close(r));
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signIn(page: Page, username: string): Promise<void> {
    await page.goto(appUrl + '/');
    await page.waitForSelector('#who[data-state="signed-out"]');
    await page.fill('#username', username);
    await page.fill('#password', `${username}-demo-password`);
    await page.click('#login');
    await page.waitForSelector(`#who[data-user="${username}"]`);
  }

  async function cookieMap(b: Browser) {
    return new Map((await b.context.cookies(appUrl + '/auth/refresh')).map((c) => [c.name, c]));
  }

  test('sign in, reload, keep working through refresh after the access cookie expires, sign out', async () => {
    const page = await first.context.newPage();
    await signIn(page, 'alice');
    await page.waitForSelector('#articles li');
    expect(await page.textContent('#sessions')).toContain('this browser');

    // The flags as the browser keeps them.
    const jar = await cookieMap(first);
    expect(jar.get('__Host-access')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', domain: 'localhost' });
    expect(jar.get('__Secure-refresh')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/auth/refresh' });
    expect(jar.get('__Host-csrf')).toMatchObject({ httpOnly: false, secure: true, sameSite: 'Lax', path: '/' });
    // The page's script sees only the CSRF cookie; the refresh cookie is not even sent to "/".
    const visible = (await page.evaluate('document.cookie')) as string;
    expect(visible).toContain('__Host-csrf=');
    expect(visible).not.toContain('access');
    expect(visible).not.toContain('refresh');
    const toRoot = (await first.context.cookies(appUrl + '/')).map((c) => c.name).sort();
    // And the login throttle's device cookie (httpOnly too).
    expect(toRoot).toEqual(['__Host-access', '__Host-csrf', '__Host-nest-auth-device']);

    // Alice may read, not write: the page shows the 403.
    await page.click('#create-article');
    await page.waitForSelector('#article-result[data-status="403"]');
    expect(await page.textContent('#article-result')).toContain('permission_denied');

    await page.reload();
    await page.waitForSelector('#who[data-user="alice"]');

    // Let the access cookie expire, then keep working: the page refreshes silently and retries.
    await eventually(async () => !(await cookieMap(first)).has('__Host-access'), 'the access cookie to expire');
    const refreshesBefore = (await page.evaluate('window.__auth.refreshes')) as number;
    const refreshed = page.waitForResponse((r) => r.url() === appUrl + '/auth/refresh' && r.status() === 200);
    await page.click('#reload-articles');
    await refreshed;
    await page.waitForFunction(`window.__auth.refreshes > ${refreshesBefore}`);
    await page.waitForSelector('#articles li');
    expect(await page.textContent('#articles')).toContain('Private by default');
    expect((await cookieMap(first)).has('__Host-access')).toBe(true);

    await page.click('#logout');
    await page.waitForSelector('#who[data-state="signed-out"]');
    // Only the device cookie stays: it names no session and grants nothing alone (it lets this browser past a
    // shared address's login limit, see loginThrottle.deviceCookie).
    expect([...(await cookieMap(first)).keys()]).toEqual(['__Host-nest-auth-device']);
    await page.reload();
    await page.waitForSelector('#who[data-state="signed-out"]');
    await page.close();
  });

  test('bob creates an article; sign out everywhere from a second browser ends the first one', async () => {
    const a = await first.context.newPage();
    await signIn(a, 'bob');
    await a.click('#create-article');
    await a.waitForSelector('#article-result[data-status="201"]');
    expect(await a.textContent('#article-result')).toContain('by bob');

    const b = await second.context.newPage();
    await signIn(b, 'bob');
    await b.waitForSelector('#sessions[data-count="2"]');
    await b.click('#logout-all');
    await b.waitForSelector('#who[data-state="signed-out"]');

    // The first browser's next call fails, its refresh fails too, and the page shows it signed out.
    await a.click('#reload-articles');
    await a.waitForSelector('#who[data-state="signed-out"]');
    await a.close();
    await b.close();
  });

  test('a replayed refresh cookie ends the session', async () => {
    const page = await first.context.newPage();
    await signIn(page, 'alice');
    const stolen = (await cookieMap(first)).get('__Secure-refresh')!.value;
    const csrf = (await cookieMap(first)).get('__Host-csrf')!.value;
    // The legitimate page refreshes after the access cookie expires: the stolen refresh token is rotated out.
    await eventually(async () => !(await cookieMap(first)).has('__Host-access'), 'the access cookie to expire');
    const refreshed = page.waitForResponse((r) => r.url() === appUrl + '/auth/refresh' && r.status() === 200);
    await page.click('#reload-articles');
    await refreshed;
    // The thief replays it (with the CSRF token too: the worst case): reuse, the session ends.
    const replay = await fetch(appUrl + '/auth/refresh', {
      method: 'POST',
      headers: { cookie: `__Secure-refresh=${stolen}`, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { code: string }).code).toBe('token_revoked');
    await eventually(async () => !(await cookieMap(first)).has('__Host-access'), 'the access cookie to expire');
    await page.click('#reload-articles');
    await page.waitForSelector('#who[data-state="signed-out"]');
    await page.close();
  });

  test('a page on another origin cannot post with the cookies, fetch with them, or log the victim in', async () => {
    const victim = await first.context.newPage();
    await signIn(victim, 'bob');

    // A form POST from the other origin: the browser sends the cookies (same site), the app refuses.
    const attacker = await first.context.newPage();
    const formAnswer = attacker.waitForResponse((r) => r.url() === appUrl + '/articles' && r.request().method() === 'POST');
    await attacker.goto(evilUrl + '/form');
    const form = await formAnswer;
    expect(form.status()).toBe(403);
    expect(((await form.json()) as { code: string }).code).toBe('csrf_failed');
    expect(form.request().headers().cookie ?? (await form.request().allHeaders()).cookie).toContain('__Host-access=');

    // A credentialed fetch that carries the CSRF token it read from the shared-host cookie jar: the Origin still fails it.
    const fetchAnswer = attacker.waitForResponse((r) => r.url().startsWith(appUrl + '/auth/logout-all') && r.request().method() === 'POST');
    await attacker.goto(evilUrl + '/fetch');
    const fetched = await fetchAnswer;
    // The body of a no-cors answer is opaque even to the driver: the 403 and the victim's live session below tell.
    expect(fetched.status()).toBe(403);
    await attacker.waitForSelector('#done', { state: 'attached' });
    expect(await attacker.textContent('#stolen-csrf')).not.toBe(''); // it could read the token, and that was not enough

    // The victim is still signed in: nothing changed.
    await victim.click('#reload-articles');
    await victim.waitForSelector('#articles li');
    expect(await victim.getAttribute('#who', 'data-user')).toBe('bob');

    // A cross-site login form (login CSRF) is refused and plants no session.
    const other = await second.context.newPage();
    const loginAnswer = other.waitForResponse((r) => r.url() === appUrl + '/auth/login');
    await other.goto(evilUrl + '/login');
    const login = await loginAnswer;
    expect(login.status()).toBe(403);
    expect(((await login.json()) as { code: string }).code).toBe('csrf_failed');
    expect((await second.context.cookies(appUrl)).filter((c) => c.name.includes('access'))).toEqual([]);
    await Promise.all([victim.close(), attacker.close(), other.close()]);
  });
});

/** The attacker's site: another port of the same host. */
async function serveEvilPages(appUrl: string): Promise<Server> {
  const pages: Record<string, string> = {
    '/form': `<form method="POST" action="${appUrl}/articles"><input name="title" value="pwned"></form>
      <script>document.forms[0].submit()</script>`,
    '/fetch': `<p id="stolen-csrf"></p><script>
      const csrf = (document.cookie.match(/__Host-csrf=([^;]+)/) || [])[1] || '';
      document.getElementById('stolen-csrf').textContent = csrf;
      // no-cors keeps it a "simple" request, so it is really sent (a custom header would need a preflight the app never grants);
      // the token rides in the body and the query instead.
      fetch('${appUrl}/auth/logout-all?csrf=' + csrf, { method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'content-type': 'text/plain' }, body: csrf })
        .finally(() => { const d = document.createElement('p'); d.id = 'done'; document.body.append(d); });
    </script>`,
    '/login': `<form method="POST" action="${appUrl}/auth/login">
      <input name="username" value="bob"><input name="password" value="bob-demo-password"></form>
      <script>document.forms[0].submit()</script>`,
  };
  const server = createServer((req, res) => {
    const body = pages[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
