import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { io, type Socket } from 'socket.io-client';
import type { AuthService } from '../../src/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bootTransportApp, nextEvent, sleep, tokenFor } from '../support/transports.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { EventsGateway } from './gateways.js';

const SYNC_MS = 200;

describe.each(ADAPTERS)('socket.io gateway, %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let auth: AuthService;
  let users: MemoryUsers;
  const sockets: Socket[] = [];

  const connect = (opts: { token?: string; header?: string; query?: Record<string, string> } = {}): Socket => {
    const socket = io(`${url}/events`, {
      transports: ['websocket'],
      reconnection: false,
      auth: opts.token === undefined ? {} : { token: opts.token },
      extraHeaders: opts.header === undefined ? {} : { Authorization: opts.header },
      query: opts.query,
    });
    sockets.push(socket);
    return socket;
  };
  const connected = async (socket: Socket) => {
    await nextEvent(socket, 'connect');
    return socket;
  };
  /** The handler's ack, or the `exception` event the server emits instead. */
  const call = (socket: Socket, event: string, data?: unknown) =>
    new Promise<{ ack?: any; exception?: any }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 5000);
      const onException = (exception: unknown) => {
        clearTimeout(timer);
        resolve({ exception });
      };
      socket.once('exception', onException);
      socket.emit(event, data, (ack: unknown) => {
        clearTimeout(timer);
        socket.off('exception', onException);
        resolve({ ack });
      });
    });
  const login = async (username: keyof typeof PASSWORDS) =>
    (await request(app.getHttpServer()).post('/auth/login').send({ username, password: PASSWORDS[username] })).body.accessToken as string;

  beforeAll(async () => {
    users = await MemoryUsers.create();
    ({ app, url, auth } = await bootTransportApp(
      { jwt: { secret: SECRET }, users, revocation: { syncIntervalMs: SYNC_MS } },
      { adapter, providers: [EventsGateway], controllers: [AuthController] },
    ));
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(() => app.close());

  test('valid token in handshake.auth.token: whoami answers the principal', async () => {
    const socket = await connected(connect({ token: await tokenFor(auth, users.get('alice')) }));
    expect((await call(socket, 'whoami')).ack).toEqual({ id: '1', username: 'alice' });
  });

  test('valid token in the handshake Authorization header', async () => {
    const socket = await connected(connect({ header: `Bearer ${await tokenFor(auth, users.get('bob'))}` }));
    expect((await call(socket, 'whoami')).ack).toEqual({ id: '2', username: 'bob' });
  });

  test('no token: connects as a guest; a private handler answers WsException token_missing, a public one works', async () => {
    const socket = await connected(connect());
    const denied = await call(socket, 'whoami');
    expect(denied.exception).toEqual({ status: 'error', code: 'token_missing', message: expect.any(String) });
    expect((await call(socket, 'ping')).ack).toEqual({ pong: true, username: null });
  });

  test('public handler with a valid token still sees the principal', async () => {
    const socket = await connected(connect({ token: await tokenFor(auth, users.get('alice')) }));
    expect((await call(socket, 'ping')).ack).toEqual({ pong: true, username: 'alice' });
  });

  test('bad token: the connection is refused, connect_error carries the code', async () => {
    const socket = connect({ token: 'not.a.jwt' });
    const err = await nextEvent<Error & { data: { code: string; message: string } }>(socket, 'connect_error');
    expect(err.data).toEqual({ code: 'token_invalid', message: expect.any(String) });
    expect(err.message).toBe(err.data.message);
  });

  test('expired token: refused at connection with token_expired', async () => {
    const token = await tokenFor(auth, users.get('alice'), 1);
    await sleep(2100); // real time on purpose: the one-second token has expired
    const err = await nextEvent<Error & { data: { code: string } }>(connect({ token }), 'connect_error');
    expect(err.data.code).toBe('token_expired');
  });

  test('header and auth.token that disagree: refused as token_invalid', async () => {
    const socket = connect({ token: await tokenFor(auth, users.get('alice')), header: `Bearer ${await tokenFor(auth, users.get('bob'))}` });
    expect((await nextEvent<{ data: { code: string } }>(socket, 'connect_error')).data.code).toBe('token_invalid');
  });

  test('a query parameter token is ignored by default (allowQueryToken is off)', async () => {
    const socket = await connected(connect({ query: { token: await tokenFor(auth, users.get('alice')) } }));
    expect((await call(socket, 'whoami')).exception.code).toBe('token_missing');
  });

  test('lacking permission: WsException permission_denied; staff-only likewise', async () => {
    const socket = await connected(connect({ token: await tokenFor(auth, users.get('alice')) }));
    expect((await call(socket, 'write')).exception).toEqual({ status: 'error', code: 'permission_denied', message: expect.any(String) });
    expect((await call(socket, 'staff')).exception.code).toBe('permission_denied');
    const bob = await connected(connect({ token: await tokenFor(auth, users.get('bob')) }));
    expect((await call(bob, 'write')).ack).toEqual({ written: true });
  });

  test('token expiring mid-connection: the server pushes session.ended, then disconnects', async () => {
    // Two seconds of life: enough to connect on a loaded machine, then it runs out while connected.
    const socket = await connected(connect({ token: await tokenFor(auth, users.get('alice'), 2) }));
    const ended = nextEvent<{ code: string }>(socket, 'session.ended', 8000);
    const gone = nextEvent<string>(socket, 'disconnect', 8000);
    expect((await ended).code).toBe('token_expired');
    expect(await gone).toBe('io server disconnect');
  });

  test('token revoked mid-connection: session.ended with token_revoked, then disconnected', async () => {
    const token = await tokenFor(auth, users.get('alice'));
    const socket = await connected(connect({ token }));
    expect((await call(socket, 'whoami')).ack.username).toBe('alice');
    const ended = nextEvent<{ code: string; message: string }>(socket, 'session.ended', 3000);
    const gone = nextEvent(socket, 'disconnect', 3000);
    await auth.revokeToken(token);
    expect(await ended).toEqual({ code: 'token_revoked', message: expect.any(String) });
    await gone;
  });

  test('user cut off (revokeAllForUser): every socket of that user is disconnected, others stay', async () => {
    const a1 = await connected(connect({ token: await tokenFor(auth, users.get('alice')) }));
    const a2 = await connected(connect({ token: await login('alice') }));
    const b = await connected(connect({ token: await tokenFor(auth, users.get('bob')) }));
    const ends = [nextEvent(a1, 'disconnect', 3000), nextEvent(a2, 'disconnect', 3000)];
    await sleep(1100); // a cut-off refuses tokens issued before its second
    await auth.revokeAllForUser('1');
    await Promise.all(ends);
    expect((await call(b, 'whoami')).ack.username).toBe('bob');
  });

  test("request context: logout() in a handler ends that socket's session only, and it is disconnected", async () => {
    const alice = await connected(connect({ token: await login('alice') }));
    const bob = await connected(connect({ token: await login('bob') }));
    // Interleaved calls: each sees its own principal and session.
    const [a, b] = await Promise.all([call(alice, 'sessions', 100), call(bob, 'sessions', 0)]);
    expect(a.ack.userId).toBe('1');
    expect(b.ack.userId).toBe('2');
    expect(a.ack.current).toHaveLength(1);
    expect(a.ack.current).not.toEqual(b.ack.current);
    const ended = nextEvent<{ code: string }>(alice, 'session.ended', 3000);
    expect((await call(alice, 'logout')).ack).toEqual({ ok: true });
    expect((await ended).code).toBe('token_revoked');
    expect((await call(bob, 'whoami')).ack.username).toBe('bob');
  });
});
