import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { createClient, type Client } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import WebSocket from 'ws';
import type { AuthModuleForRootOptions } from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';
import { SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bearer, login } from '../support/http.js';
import { bootTransportApp, nextEvent, sleep } from '../support/transports.js';
import { MemoryUsers } from '../support/users.js';
import { PubSub, SessionsFeedGateway, SessionsFeedResolver, type SessionsEvent } from './realtime-app.js';

/**
 * Issue 21 item 1 on the realtime transports: a subscriber's code runs inside whatever call publishes. A superuser's
 * mutation publishing on a shared PubSub, or a superuser's socket.io message that announces to every watcher, must
 * never show the superuser's sessions to another user: each subscriber passes its own caller (the explicit form).
 */

const MODES = [
  ['express', 'auto'],
  ['express', true],
  ['fastify', 'auto'],
  ['fastify', true],
] as const;

const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sub: string; sid: string };

describe.each(MODES)('realtime transports (%s, requestContext %s)', (adapter, mode) => {
  let app: INestApplication;
  let url: string;
  let pubsub: PubSub;
  const clients: Client[] = [];
  const sockets: Socket[] = [];

  const sessionIds = async (token: string) =>
    ((await request(app.getHttpServer()).get('/auth/sessions').set(bearer(token))).body as { id: string }[]).map((s) => s.id).sort();
  const listening = async (count: number) => {
    for (let i = 0; i < 200 && pubsub.listeners < count; i++) await sleep(20);
    expect(pubsub.listeners).toBe(count);
  };

  beforeAll(async () => {
    ({ app, url } = await bootTransportApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), requestContext: mode } as AuthModuleForRootOptions,
      {
        adapter,
        controllers: [AuthController],
        providers: [PubSub, SessionsFeedResolver, SessionsFeedGateway],
        imports: [
          GraphQLModule.forRootAsync<ApolloDriverConfig>({
            driver: ApolloDriver,
            inject: [TransportAuth],
            useFactory: (transportAuth: TransportAuth) => ({ autoSchemaFile: true, subscriptions: { 'graphql-ws': transportAuth.graphqlWs() } }),
          }),
        ],
      },
    ));
    pubsub = app.get(PubSub);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    for (const s of sockets.splice(0)) s.disconnect();
    for (let i = 0; i < 200 && pubsub.listeners > 0; i++) await sleep(20);
  });
  afterAll(() => app.close());

  test("graphql-ws: a superuser's mutation publishing on a shared PubSub, the subscriber gets its own sessions only", async () => {
    const root = await login(app, 'root');
    const alice = await login(app, 'alice');
    await login(app, 'alice');
    const aliceSessions = await sessionIds(alice.accessToken);

    const client = createClient({
      url: url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${alice.accessToken}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
    });
    clients.push(client);
    const received: Array<SessionsEvent | { errors: unknown }> = [];
    const got = new Promise<void>((resolve, reject) => {
      client.subscribe<{ mySessions: SessionsEvent }>(
        { query: 'subscription { mySessions { ids current refused } }' },
        {
          next: (v) => {
            received.push(v.errors ? { errors: v.errors } : v.data!.mySessions);
            if (received.length === 2) resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await listening(1);

    for (let i = 0; i < 2; i++) {
      const published = await request(app.getHttpServer())
        .post('/graphql')
        .set(bearer(root.accessToken))
        .send({ query: 'mutation { publishChange }' });
      expect(published.body).toEqual({ data: { publishChange: true } });
    }
    await got;

    for (const event of received) expect(event).toEqual({ ids: aliceSessions, current: payloadOf(alice.accessToken).sid, refused: null });
  });

  test("socket.io: a superuser's broadcast runs every watcher's listener, each lists its own sessions only", async () => {
    const root = await login(app, 'root');
    const alice = await login(app, 'alice');
    const bob = await login(app, 'bob');
    const connect = async (token: string) => {
      const socket = io(`${url}/feed`, { transports: ['websocket'], reconnection: false, auth: { token } });
      sockets.push(socket);
      await nextEvent(socket, 'connect');
      return socket;
    };
    const ack = (socket: Socket, event: string) => new Promise((resolve) => socket.emit(event, undefined, resolve));

    const aliceSocket = await connect(alice.accessToken);
    const bobSocket = await connect(bob.accessToken);
    const rootSocket = await connect(root.accessToken);
    expect(await ack(aliceSocket, 'watch')).toEqual({ watching: true });
    expect(await ack(bobSocket, 'watch')).toEqual({ watching: true });
    await listening(2);

    const forAlice = nextEvent<SessionsEvent>(aliceSocket, 'sessions');
    const forBob = nextEvent<SessionsEvent>(bobSocket, 'sessions');
    expect(await ack(rootSocket, 'announce')).toEqual({ announced: true });

    expect(await forAlice).toEqual({ ids: await sessionIds(alice.accessToken), current: payloadOf(alice.accessToken).sid });
    expect(await forBob).toEqual({ ids: await sessionIds(bob.accessToken), current: payloadOf(bob.accessToken).sid });
  });
});
