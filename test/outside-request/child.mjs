// One public method of AuthService or ApiKeyService, called outside any request, in a process of its own:
// a job, a CLI or a seed script calls the method first thing, so no earlier call may have warmed any state.
// argv: <lib dir (the module's sources, compiled)> <JSON { method, requestContext, throttle }>
// Prints one line: `RESULT {"ok":true,"value":...}` or `RESULT {"ok":false,"status":...,"code":...}`.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [libDir, rawCase] = process.argv.slice(2);
const { method, requestContext, throttle } = JSON.parse(rawCase);
const load = (path) => import(pathToFileURL(join(libDir, path)).href);
const lib = await load('index.js');
// Internal services, to prepare what the method needs without calling AuthService itself first.
const { SessionService } = await load('sessions/session.service.js');

const users = new Map([
  ['1', { id: 1, username: 'alice', passwordHash: 'plain:alice-password-1', permissions: ['articles:read'] }],
  ['2', { id: 2, username: 'bob', passwordHash: 'plain:bob-password-1', permissions: [] }],
]);
const userProvider = {
  async findByUsername(username) {
    return [...users.values()].find((u) => u.username === username) ?? null;
  },
  async findById(id) {
    return users.get(id) ?? null;
  },
};
// The password check is not what this tests: a plain comparison keeps each process quick.
const passwordHasher = {
  async hash(password) {
    return `plain:${password}`;
  },
  async verify(hash, password) {
    return hash === `plain:${password}`;
  },
};

class App {}
Module({
  imports: [
    lib.AuthModule.forRoot({
      jwt: { secret: 'outside-request-secret-of-at-least-32-bytes!' },
      users: userProvider,
      passwordHasher,
      apiKeys: { enabled: true },
      loginThrottle: throttle ? {} : false,
      requestContext,
    }),
  ],
})(App);

const app = await NestFactory.createApplicationContext(App, { logger: false });
await app.init();
const auth = app.get(lib.AuthService);
const keys = app.get(lib.ApiKeyService);
const sessionService = app.get(SessionService);
// A session as login() starts one, with no request around it (no client address or user agent to record).
const sessions = { start: async (user) => (await sessionService.start(user, {})).pair };

/** What the caller got back, without any token in it (only their shape). */
const shape = (pair) => ({ access: typeof pair?.accessToken === 'string', refresh: typeof pair?.refreshToken === 'string' });
const failure = async (call) => {
  try {
    await call();
    return 'no error';
  } catch (err) {
    // Nest's HTTP exceptions (what AuthService throws) give a status; the guard's own check throws the AuthError.
    return `${err?.getStatus?.() ?? err?.constructor?.name} ${err?.getResponse?.()?.code ?? err?.code ?? err?.message}`;
  }
};

const cases = {
  // AuthService
  async login() {
    const first = await auth.login('alice', 'alice-password-1');
    const second = await auth.login('alice', 'alice-password-1');
    const wrong = await failure(() => auth.login('alice', 'not-her-password'));
    return { first: shape(first), second: shape(second), wrong, verified: (await auth.verifyAccessToken(first.accessToken)).sub };
  },
  async refresh() {
    const start = await sessions.start(users.get('1'));
    const rotated = await auth.refresh(start.refreshToken);
    const again = await auth.refresh(rotated.refreshToken);
    // The first token again is reuse: refused, and the session ends.
    const reuse = await failure(() => auth.refresh(start.refreshToken));
    const after = await failure(() => auth.refresh(again.refreshToken));
    return { rotated: shape(rotated), again: shape(again), reuse, after };
  },
  async refreshCurrentSessionToken() {
    return { refused: await failure(() => auth.refreshCurrentSessionToken()) };
  },
  async createToken() {
    const token = await auth.createToken({ sub: 'job-1', permissions: ['articles:read'] });
    return { sub: (await auth.verifyAccessToken(token)).sub };
  },
  async createTokenForUser() {
    const token = await auth.createTokenForUser(users.get('1'));
    return { sub: (await auth.verifyAccessToken(token)).sub };
  },
  async verifyAccessToken() {
    const { accessToken } = await sessions.start(users.get('1'));
    const claims = await auth.verifyAccessToken(accessToken);
    return {
      sub: claims.sub,
      garbage: await failure(() => auth.verifyAccessToken('not-a-token')),
      empty: await failure(() => auth.verifyAccessToken('')),
    };
  },
  async revokeToken() {
    const { accessToken, refreshToken } = await sessions.start(users.get('1'));
    await auth.revokeToken(accessToken);
    await auth.revokeToken(refreshToken);
    return { access: await failure(() => auth.verifyAccessToken(accessToken)), refresh: await failure(() => auth.refresh(refreshToken)) };
  },
  async revokeAllForUser() {
    const { accessToken, refreshToken } = await sessions.start(users.get('1'));
    await auth.revokeAllForUser('1');
    return { access: await failure(() => auth.verifyAccessToken(accessToken)), refresh: await failure(() => auth.refresh(refreshToken)) };
  },
  async logout() {
    return { refused: await failure(() => auth.logout()) };
  },
  async listSessions() {
    return { refused: await failure(() => auth.listSessions()) };
  },
  async endSession() {
    return { refused: await failure(() => auth.endSession('some-session')) };
  },
  async purgeExpired() {
    return { purged: typeof (await auth.purgeExpired()) };
  },
  async getJwks() {
    return { keys: Array.isArray(auth.getJwks().keys) };
  },
  // ApiKeyService
  async 'apiKeys.create'() {
    const { id, key } = await keys.create({ name: 'nightly job', permissions: ['articles:read'] });
    const who = await keys.authenticate(key);
    return { id: typeof id, permissions: who.permissions };
  },
  async 'apiKeys.authenticate'() {
    return { refused: await failure(() => keys.authenticate('nak_not-a-real-key')) };
  },
  async 'apiKeys.list'() {
    return { count: (await keys.list()).length };
  },
  async 'apiKeys.revoke'() {
    const { id, key } = await keys.create({ name: 'to revoke', permissions: [] });
    await keys.revoke(id);
    return { refused: await failure(() => keys.authenticate(key)) };
  },
  async 'apiKeys.flush'() {
    await keys.flush();
    return { flushed: true };
  },
};

let result;
try {
  result = { ok: true, value: await cases[method]() };
} catch (err) {
  result = { ok: false, status: err?.getStatus?.(), code: err?.getResponse?.()?.code, error: `${err?.constructor?.name}: ${err?.message}` };
}
await app.close();
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
