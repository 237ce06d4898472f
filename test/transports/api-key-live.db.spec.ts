/**
 * A revoked API key ends its live connections on every instance (#21 item 6),
 * with the real clients: a graphql-ws subscription, a socket.io socket and a
 * ws client opened with the key on instance B, the key revoked on instance A
 * (and on B itself). A bearer connection and another key's connection stay.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { WsAdapter } from '@nestjs/platform-ws';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createClient } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import WebSocket from 'ws';
import { ApiKeyService } from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';
import { SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource, type DbTarget } from '../support/databases.js';
import { bootTransportApp, nextEvent } from '../support/transports.js';
import { eventually } from '../support/time.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { EventsGateway, PlainWsGateway } from './gateways.js';
import { ArticlesResolver } from './resolvers.js';

const SYNC_MS = 100;
/** Generous for a loaded machine: the bound is one key sweep (syncIntervalMs). A timeout, not a timing assertion. */
const WAIT_MS = SYNC_MS * 40;

// One shared store is what "every instance" needs: PostgreSQL when set, else a SQLite file.
const target: DbTarget = enabledDatabases().find((t) => t.name === 'postgres') ?? enabledDatabases()[0]!;

describe(`API-key connections end when the key is revoked, on every instance (${target.name})`, () => {
  let users: MemoryUsers;
  const apps: INestApplication[] = [];
  const sockets: Socket[] = [];
  const wsClients: WebSocket[] = [];

  const boot = async (ws = false) => {
    const booted = await bootTransportApp(
      { jwt: { secret: SECRET }, users, store: 'typeorm', apiKeys: { enabled: true }, revocation: { syncIntervalMs: SYNC_MS } },
      ws
        ? {
            controllers: [AuthController],
            providers: [PlainWsGateway],
            imports: [TypeOrmModule.forRoot(target.options())],
            configure: (a) => void a.useWebSocketAdapter(new WsAdapter(a)),
          }
        : {
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

  const socketOn = async (url: string, headers: Record<string, string>) => {
    const socket = io(`${url}/events`, { transports: ['websocket'], reconnection: false, extraHeaders: headers });
    sockets.push(socket);
    await nextEvent(socket, 'connect');
    return socket;
  };

  /** A graphql-ws client whose upgrade request carries `headers`; resolves once the first tick arrived. */
  const subscribe = async (url: string, headers: Record<string, string>) => {
    class HeaderWs extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    }
    let closedWith!: (e: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (closedWith = r));
    let ticks = 0;
    const client = createClient({
      url: url.replace('http', 'ws') + '/graphql',
      webSocketImpl: HeaderWs,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: { closed: (e) => closedWith(e as { code: number; reason: string }) },
    });
    await new Promise((resolve) =>
      client.subscribe({ query: 'subscription { ticks }' }, { next: (v) => (ticks++, resolve(v)), error: resolve, complete: () => undefined }),
    );
    return { client, closed, ticks: () => ticks };
  };

  const wsOn = async (url: string, headers: Record<string, string>) => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/ws', { headers });
    wsClients.push(ws);
    const frames: Array<{ event: string; data: any }> = [];
    ws.on('message', (raw) => frames.push(JSON.parse(String(raw))));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    return { ws, frames, closed };
  };

  const within = <T>(p: Promise<T>, what: string) =>
    Promise.race([p, new Promise<never>((_, j) => setTimeout(() => j(new Error(`${what}: nothing within ${WAIT_MS} ms`)), WAIT_MS))]);

  beforeAll(async () => {
    users = await MemoryUsers.create();
    await target.reset();
    await (await migratedDataSource(target)).destroy();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    for (const w of wsClients) w.terminate();
    for (const app of apps) await app.close();
  });

  test('graphql-ws and socket.io on B end when A revokes the key; a bearer and another key stay', async () => {
    const a = await boot();
    const b = await boot();
    const keys = a.app.get(ApiKeyService);
    const doomed = await keys.create({ name: 'doomed', permissions: ['articles:read'], userId: '1' });
    const kept = await keys.create({ name: 'kept', permissions: ['articles:read'], userId: '2' });
    const token = (await request(a.app.getHttpServer()).post('/auth/login').send({ username: 'bob', password: PASSWORDS.bob })).body
      .accessToken as string;

    const sub = await subscribe(b.url, { 'x-api-key': doomed.key });
    const keptSub = await subscribe(b.url, { 'x-api-key': kept.key });
    const socket = await socketOn(b.url, { 'x-api-key': doomed.key });
    const keptSocket = await socketOn(b.url, { 'x-api-key': kept.key });
    const bearerSocket = await socketOn(b.url, { authorization: `Bearer ${token}` });

    const socketEnded = nextEvent<{ code: string }>(socket, 'session.ended', WAIT_MS);
    const socketGone = nextEvent(socket, 'disconnect', WAIT_MS);
    await keys.revoke((await keys.list()).find((k) => k.name === 'doomed')!.id);

    expect((await socketEnded).code).toBe('api_key_invalid');
    await socketGone;
    expect(await within(sub.closed, 'the subscription to close')).toMatchObject({ code: 4401, reason: 'api_key_invalid' });
    // The other key and the bearer are untouched.
    expect(keptSocket.connected).toBe(true);
    expect(bearerSocket.connected).toBe(true);
    const before = keptSub.ticks();
    // The kept subscription still ticks: wait, bounded, for its next tick.
    await eventually(async () => keptSub.ticks() > before, 'the kept subscription to tick', WAIT_MS).catch(() => undefined);
    expect(keptSub.ticks()).toBeGreaterThan(before);
    expect(await bearerSocket.timeout(2000).emitWithAck('whoami', {})).toEqual({ id: '2', username: 'bob' });
    await sub.client.dispose();
    await keptSub.client.dispose();
  });

  test('a revoke on the same instance ends its connection at once (no wait for a sweep)', async () => {
    const a = await boot();
    const keys = a.app.get(ApiKeyService);
    const doomed = await keys.create({ name: 'local', permissions: [], userId: '1' });
    const socket = await socketOn(a.url, { 'x-api-key': doomed.key });
    const ended = nextEvent<{ code: string }>(socket, 'session.ended', WAIT_MS);
    await keys.revoke((await keys.list()).find((k) => k.name === 'local')!.id);
    expect((await ended).code).toBe('api_key_invalid');
  });

  test('a key that expires ends its connection too', async () => {
    const a = await boot();
    const keys = a.app.get(ApiKeyService);
    const expiring = await keys.create({ name: 'expiring', permissions: [], userId: '1', expiresAt: new Date(Date.now() + 1500) });
    const socket = await socketOn(a.url, { 'x-api-key': expiring.key });
    expect((await nextEvent<{ code: string }>(socket, 'session.ended', 1500 + WAIT_MS)).code).toBe('api_key_invalid');
  });

  test('ws (@nestjs/platform-ws) on B ends when A revokes the key', async () => {
    const a = await boot(true);
    const b = await boot(true);
    const keys = a.app.get(ApiKeyService);
    const doomed = await keys.create({ name: 'ws-doomed', permissions: [], userId: '1' });
    const kept = await keys.create({ name: 'ws-kept', permissions: [], userId: '2' });
    const client = await wsOn(b.url, { 'x-api-key': doomed.key });
    const keptClient = await wsOn(b.url, { 'x-api-key': kept.key });
    await keys.revoke((await keys.list()).find((k) => k.name === 'ws-doomed')!.id);
    expect(await within(client.closed, 'the ws client to close')).toEqual({ code: 4401, reason: 'api_key_invalid' });
    expect(client.frames.find((f) => f.event === 'session.ended')?.data).toMatchObject({ code: 'api_key_invalid' });
    expect(keptClient.ws.readyState).toBe(WebSocket.OPEN);
  });
});
