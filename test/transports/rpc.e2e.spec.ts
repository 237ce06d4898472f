import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ClientProxyFactory, NatsRecordBuilder, Transport, type ClientProxy } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import request from 'supertest';
import type { AuthService } from '../../src/index.js';
import { SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bootTransportApp, sleep, tokenFor } from '../support/transports.js';
import { eventually } from '../support/time.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { testWith, serviceUrl } from '../support/services.js';
import { received, RpcHandlers } from './rpc-handlers.js';

// Opt-in (no default URL): without a NATS server the TCP transport is still tested, the NATS tests skip with one line.
const NATS_URL = serviceUrl('nats');
const natsTest = testWith('the NATS transport tests (TCP ran)', 'nats');
const TCP_PORT = 41000 + Math.floor(Math.random() * 2000);

describe('microservices: NATS (headers and payload fallback) and TCP (payload)', () => {
  let app: INestApplication;
  let auth: AuthService;
  let users: MemoryUsers;
  let nats: ClientProxy;
  let tcp: ClientProxy;

  const viaHeader = (pattern: string, token?: string, data: Record<string, unknown> = {}) => {
    const h = natsHeaders();
    if (token !== undefined) h.set('Authorization', `Bearer ${token}`);
    return firstValueFrom(nats.send(pattern, new NatsRecordBuilder(data).setHeaders(h).build()));
  };
  const viaPayload = (client: ClientProxy, pattern: string, token: string) => firstValueFrom(client.send(pattern, { auth: { token } }));

  beforeAll(async () => {
    users = await MemoryUsers.create();
    ({ app, auth } = await bootTransportApp(
      { jwt: { secret: SECRET }, users },
      {
        controllers: [AuthController, RpcHandlers],
        configure: (a) => {
          // inheritAppConfig: the microservice shares the app's global guard and interceptor.
          if (NATS_URL) a.connectMicroservice({ transport: Transport.NATS, options: { servers: [NATS_URL] } }, { inheritAppConfig: true });
          a.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: TCP_PORT } }, { inheritAppConfig: true });
        },
      },
    ));
    await app.startAllMicroservices();
    tcp = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: TCP_PORT } });
    await tcp.connect();
    if (NATS_URL) {
      nats = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [NATS_URL] } });
      await nats.connect();
    }
  });
  afterAll(async () => {
    await Promise.all([nats?.close(), tcp?.close()]);
    await app?.close();
  });

  natsTest('valid token in the NATS Authorization header', async () => {
    expect(await viaHeader('transports.whoami', await tokenFor(auth, users.get('alice')))).toEqual({ id: '1', username: 'alice' });
  });

  test('valid token in the payload fallback field auth.token, over TCP', async () => {
    const token = await tokenFor(auth, users.get('bob'));
    expect(await viaPayload(tcp, 'transports.whoami', token)).toEqual({ id: '2', username: 'bob' });
  });

  natsTest('valid token in the payload fallback field auth.token, over NATS', async () => {
    const token = await tokenFor(auth, users.get('bob'));
    expect(await viaPayload(nats, 'transports.whoami', token)).toEqual({ id: '2', username: 'bob' });
  });

  test('no token over TCP: RpcException { code: token_missing, message }', async () => {
    await expect(firstValueFrom(tcp.send('transports.whoami', {}))).rejects.toEqual({ code: 'token_missing', message: 'Authentication is required' });
  });

  natsTest('no token over NATS: RpcException { code: token_missing, message }', async () => {
    await expect(viaHeader('transports.whoami')).rejects.toEqual({ code: 'token_missing', message: 'Authentication is required' });
  });

  natsTest('expired, malformed and revoked tokens', async () => {
    const expired = await tokenFor(auth, users.get('alice'), 1);
    const revoked = await tokenFor(auth, users.get('alice'));
    await auth.revokeToken(revoked);
    await sleep(2100); // real time on purpose: the one-second token has expired
    await expect(viaHeader('transports.whoami', expired)).rejects.toMatchObject({ code: 'token_expired' });
    await expect(viaHeader('transports.whoami', 'nope')).rejects.toMatchObject({ code: 'token_invalid' });
    await expect(viaHeader('transports.whoami', revoked)).rejects.toMatchObject({ code: 'token_revoked' });
  });

  natsTest('header and payload token that disagree: token_invalid', async () => {
    const h = natsHeaders();
    h.set('authorization', `Bearer ${await tokenFor(auth, users.get('alice'))}`);
    const record = new NatsRecordBuilder({ auth: { token: await tokenFor(auth, users.get('bob')) } }).setHeaders(h).build();
    await expect(firstValueFrom(nats.send('transports.whoami', record))).rejects.toMatchObject({ code: 'token_invalid' });
  });

  natsTest('lacking permission: permission_denied; public handler works for guests and principals', async () => {
    await expect(viaHeader('transports.write', await tokenFor(auth, users.get('alice')))).rejects.toEqual({
      code: 'permission_denied',
      message: 'You do not have permission to perform this action',
    });
    expect(await viaHeader('transports.write', await tokenFor(auth, users.get('bob')))).toEqual({ written: true });
    expect(await viaHeader('transports.ping')).toEqual({ pong: true, username: null });
    expect(await viaHeader('transports.ping', await tokenFor(auth, users.get('bob')))).toEqual({ pong: true, username: 'bob' });
  });

  natsTest('@EventPattern: @PermissionRequired applies (the event of a principal without it is dropped)', async () => {
    const emit = async (token: string, n: number) => {
      const h = natsHeaders();
      h.set('authorization', `Bearer ${token}`);
      await firstValueFrom(nats.emit('transports.event', new NatsRecordBuilder({ n }).setHeaders(h).build()));
    };
    await emit(await tokenFor(auth, users.get('alice')), 1);
    await emit(await tokenFor(auth, users.get('bob')), 2);
    // Bob's event was sent after alice's, on the same connection: wait for it, bounded, then check alice's was dropped.
    await eventually(async () => received.some((r) => (r as { n: number }).n === 2), "bob's event", 5000).catch(() => undefined);
    expect(received).toEqual([{ n: 2 }]);
  });

  natsTest("request context: listSessions() in a message handler sees that message's principal", async () => {
    const login = async (u: keyof typeof PASSWORDS) =>
      (await request(app.getHttpServer()).post('/auth/login').send({ username: u, password: PASSWORDS[u] })).body.accessToken as string;
    const [a, b] = [await login('alice'), await login('bob')];
    const [ra, rb] = await Promise.all([viaHeader('transports.sessions', a, { delayMs: 80 }), viaHeader('transports.sessions', b, {})]);
    expect(ra).toHaveLength(1);
    expect(rb).toHaveLength(1);
    expect(ra).not.toEqual(rb);
  });
});
