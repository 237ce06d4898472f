import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import request from 'supertest';
import WebSocket from 'ws';
import type { AuthService } from '../../src/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bootTransportApp, sleep, tokenFor } from '../support/transports.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { PlainWsGateway } from './gateways.js';

interface Frame {
  event: string;
  data: any;
}

describe.each(ADAPTERS)('ws gateway (@nestjs/platform-ws), %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let auth: AuthService;
  let users: MemoryUsers;
  const sockets: WebSocket[] = [];

  /** An open client and every frame it receives; `closed` resolves with code and reason. */
  const open = async (token?: string) => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/ws', { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });
    sockets.push(ws);
    const frames: Frame[] = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (raw) => {
      frames.push(JSON.parse(String(raw)));
      waiters.splice(0).forEach((w) => w());
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const next = async (event: string, ms = 3000): Promise<Frame> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = frames.findIndex((f) => f.event === event || f.event === 'exception');
        if (i !== -1) return frames.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no ${event}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    };
    const call = (event: string) => {
      ws.send(JSON.stringify({ event, data: {} }));
      return next(event);
    };
    return { ws, call, next, closed };
  };
  const login = async (username: keyof typeof PASSWORDS) =>
    (await request(app.getHttpServer()).post('/auth/login').send({ username, password: PASSWORDS[username] })).body.accessToken as string;

  beforeAll(async () => {
    users = await MemoryUsers.create();
    ({ app, url, auth } = await bootTransportApp(
      { jwt: { secret: SECRET }, users, revocation: { syncIntervalMs: 200 } },
      { adapter, providers: [PlainWsGateway], controllers: [AuthController], configure: (a) => void a.useWebSocketAdapter(new WsAdapter(a)) },
    ));
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.terminate();
  });
  afterAll(() => app.close());

  test('valid token in the upgrade Authorization header', async () => {
    const c = await open(await tokenFor(auth, users.get('alice')));
    expect(await c.call('whoami')).toEqual({ event: 'whoami', data: { id: '1', username: 'alice' } });
  });

  test('no token: guest; private handler answers the exception frame with token_missing, public works', async () => {
    const c = await open();
    expect(await c.call('whoami')).toEqual({
      event: 'exception',
      data: { status: 'error', code: 'token_missing', message: 'Authentication is required' },
    });
    expect(await c.call('ping')).toEqual({ event: 'ping', data: { pong: true, username: null } });
  });

  test('bad or expired token: exception frame, then closed with 4401 and the code', async () => {
    const bad = await open('not-a-token');
    expect((await bad.next('never')).data.code).toBe('token_invalid');
    expect(await bad.closed).toEqual({ code: 4401, reason: 'token_invalid' });
    const expired = await tokenFor(auth, users.get('alice'), 1);
    await sleep(2100); // real time on purpose: the one-second token has expired
    expect(await (await open(expired)).closed).toEqual({ code: 4401, reason: 'token_expired' });
  });

  test('lacking permission: permission_denied', async () => {
    const c = await open(await tokenFor(auth, users.get('alice')));
    expect((await c.call('write')).data).toEqual({ status: 'error', code: 'permission_denied', message: expect.any(String) });
    expect((await (await open(await tokenFor(auth, users.get('bob')))).call('write')).data).toEqual({ written: true });
  });

  test('revoked mid-connection: session.ended frame, then closed with 4401 token_revoked', async () => {
    const token = await tokenFor(auth, users.get('alice'));
    const c = await open(token);
    expect((await c.call('whoami')).data.username).toBe('alice');
    await auth.revokeToken(token);
    expect(await c.next('session.ended')).toEqual({
      event: 'session.ended',
      data: { status: 'error', code: 'token_revoked', message: expect.any(String) },
    });
    expect(await c.closed).toEqual({ code: 4401, reason: 'token_revoked' });
  });

  test("request context: logout() in a handler ends that connection's session only", async () => {
    const alice = await open(await login('alice'));
    const bob = await open(await login('bob'));
    expect((await alice.call('logout')).data).toEqual({ ok: true });
    expect((await alice.closed).reason).toBe('token_revoked');
    expect((await bob.call('whoami')).data.username).toBe('bob');
  });
});
