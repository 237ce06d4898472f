import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createClient } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import WebSocket from 'ws';
import { TransportAuth } from '../../src/transports/index.js';
import { SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource, type DbTarget } from '../support/databases.js';
import { bootTransportApp, nextEvent } from '../support/transports.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { EventsGateway } from './gateways.js';
import { ArticlesResolver } from './resolvers.js';

const SYNC_MS = 100;
/** Generous for a loaded CI machine: the bound is one poll plus one sweep. A timeout, not a timing assertion. */
const WAIT_MS = SYNC_MS * 30;

describe.each(enabledDatabases())('revocation reaches live connections on another instance, $name', (target: DbTarget) => {
  let users: MemoryUsers;
  const apps: INestApplication[] = [];
  const sockets: Socket[] = [];

  const boot = async (consistency: 'cached' | 'strict' = 'cached') => {
    const booted = await bootTransportApp(
      { jwt: { secret: SECRET }, users, store: 'typeorm', revocation: { syncIntervalMs: SYNC_MS, consistency } },
      {
        controllers: [AuthController],
        providers: [EventsGateway, ArticlesResolver],
        imports: [
          TypeOrmModule.forRoot(target.options()),
          GraphQLModule.forRootAsync<ApolloDriverConfig>({
            driver: ApolloDriver,
            inject: [TransportAuth],
            useFactory: (t: TransportAuth) => ({ autoSchemaFile: true, subscriptions: { 'graphql-ws': t.graphqlWs() } }),
          }),
        ],
      },
    );
    apps.push(booted.app);
    return booted;
  };
  const socketOn = async (url: string, token: string) => {
    const socket = io(`${url}/events`, { transports: ['websocket'], reconnection: false, auth: { token } });
    sockets.push(socket);
    await nextEvent(socket, 'connect');
    return socket;
  };

  beforeAll(async () => {
    users = await MemoryUsers.create();
    await target.reset();
    await (await migratedDataSource(target)).destroy();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    for (const app of apps) await app.close();
  });

  test('logout on instance A: the socket.io sockets and graphql-ws subscriptions of that session on B and on a strict C end', async () => {
    const a = await boot();
    const b = await boot();
    const c = await boot('strict');
    const login = await request(a.app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    const token = login.body.accessToken as string;
    const other = (await request(a.app.getHttpServer()).post('/auth/login').send({ username: 'bob', password: PASSWORDS.bob })).body
      .accessToken as string;

    const onB = await socketOn(b.url, token);
    const onC = await socketOn(c.url, token);
    const bobOnB = await socketOn(b.url, other);
    let closedSub!: (e: { code: number; reason: string }) => void;
    const subClosed = new Promise<{ code: number; reason: string }>((r) => (closedSub = r));
    const gqlClient = createClient({
      url: b.url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: { closed: (e) => closedSub(e as { code: number; reason: string }) },
    });
    const firstTick = new Promise((resolve) =>
      gqlClient.subscribe({ query: 'subscription { ticks }' }, { next: resolve, error: resolve, complete: () => undefined }),
    );
    await firstTick;

    const endedB = nextEvent<{ code: string }>(onB, 'session.ended', WAIT_MS);
    const endedC = nextEvent<{ code: string }>(onC, 'session.ended', WAIT_MS);
    await request(a.app.getHttpServer()).post('/auth/logout').set('Authorization', `Bearer ${token}`).expect(204);

    expect((await endedB).code).toBe('token_revoked');
    expect((await endedC).code).toBe('token_revoked');
    expect(await subClosed).toMatchObject({ code: 4401, reason: 'token_revoked' });
    // Bob's session was not touched.
    expect(await bobOnB.timeout(2000).emitWithAck('whoami', {})).toEqual({ id: '2', username: 'bob' });
    await gqlClient.dispose();
  });
});
