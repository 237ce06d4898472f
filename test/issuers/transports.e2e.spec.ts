// A provider's tokens on GraphQL (queries, mutations, graphql-ws subscriptions) and socket.io, on Express and
// Fastify, with the same codes as the module's own tokens; live connections end when a provider token expires or is
// revoked locally; a provider whose keys cannot be read is auth_unavailable on every transport.
import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { createClient, type Client } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import WebSocket from 'ws';
import type { AuthService } from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';
import { ADAPTERS } from '../support/app.js';
import { bootTransportApp, nextEvent } from '../support/transports.js';
import { EventsGateway } from '../transports/gateways.js';
import { ArticlesResolver } from '../transports/resolvers.js';
import { JwksServer } from './support/jwks-server.js';

describe.each(ADAPTERS)('provider tokens on GraphQL and socket.io, %s', (adapter) => {
  const provider = new JwksServer('/realms/acme');
  /** A second provider whose keys can never be read (500). */
  const broken = new JwksServer('/broken');
  let app: INestApplication;
  let url: string;
  let auth: AuthService;
  const clients: Client[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    await provider.start();
    await broken.start();
    provider.addKey('ES256');
    broken.addKey('RS256');
    broken.fault = 'status500';
    ({ app, url, auth } = await bootTransportApp(
      {
        trustedIssuers: [
          { issuer: provider.issuer, audience: 'api', preset: 'keycloak' },
          { issuer: broken.issuer, audience: 'api' },
        ],
      },
      {
        adapter,
        providers: [ArticlesResolver, EventsGateway],
        imports: [
          GraphQLModule.forRootAsync<ApolloDriverConfig>({
            driver: ApolloDriver,
            inject: [TransportAuth],
            useFactory: (transportAuth: TransportAuth) => ({ autoSchemaFile: true, subscriptions: { 'graphql-ws': transportAuth.graphqlWs() } }),
          }),
        ],
      },
    ));
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await app.close();
    await provider.close();
    await broken.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  /** A Keycloak-shaped token: realm roles become permissions, preferred_username the username. */
  const token = (roles: string[] = [], extra: Record<string, unknown> = {}) =>
    provider.sign(provider.claims('api', { preferred_username: 'ada', realm_access: { roles }, ...extra }, now()), undefined, { typ: 'JWT' });

  const gql = (query: string, bearer?: string) => {
    const req = request(app.getHttpServer()).post('/graphql').set('content-type', 'application/json');
    if (bearer !== undefined) req.set('Authorization', `Bearer ${bearer}`);
    return req.send({ query });
  };

  describe('GraphQL', () => {
    const wsClient = (connectionParams: Record<string, unknown>) => {
      let onClosed!: (e: { code: number; reason: string }) => void;
      const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
      const client = createClient({
        url: url.replace('http', 'ws') + '/graphql',
        webSocketImpl: WebSocket,
        connectionParams,
        retryAttempts: 0,
        onNonLazyError: () => undefined,
        lazy: false,
        on: { closed: (e) => onClosed(e as { code: number; reason: string }) },
      });
      clients.push(client);
      return { client, closed };
    };
    const take = (client: Client, query: string, count: number) =>
      new Promise<{ values: unknown[]; error?: unknown }>((resolve) => {
        const values: unknown[] = [];
        const dispose = client.subscribe(
          { query },
          {
            next: (v) => {
              values.push(v.errors ? { errors: v.errors } : v.data);
              if (values.length >= count || v.errors) {
                dispose();
                resolve({ values });
              }
            },
            error: (error) => resolve({ values, error }),
            complete: () => resolve({ values }),
          },
        );
      });

    test('query and mutation: the principal, and permissions from the realm roles', async () => {
      expect((await gql('{ me { id username } }', await token())).body).toEqual({ data: { me: { id: 'user-1', username: 'ada' } } });
      const reader = await token(['articles:read']);
      expect((await gql('{ articles { title } }', reader)).body.data.articles.length).toBeGreaterThan(0);
      expect((await gql('mutation { createArticle(title: "x") { title } }', reader)).body.errors[0].extensions).toMatchObject({
        code: 'FORBIDDEN',
        authCode: 'permission_denied',
      });
      const writer = await token(['articles:write']);
      expect((await gql('mutation { createArticle(title: "x") { title } }', writer)).body.data.createArticle.title).toBe('x');
    });

    test('the codes: token_expired, token_invalid (wrong audience), token_revoked (jti), auth_unavailable (provider down)', async () => {
      const code = async (t: string) => (await gql('{ me { id } }', t)).body.errors[0].extensions.authCode;
      expect(await code(await token([], { iat: now() - 100, exp: now() - 10 }))).toBe('token_expired');
      expect(await code(await provider.sign(provider.claims('other', {}, now())))).toBe('token_invalid');
      const revoked = await token([], { jti: `gql-${adapter}` });
      await auth.revokeToken(`gql-${adapter}`);
      expect(await code(revoked)).toBe('token_revoked');
      expect(await code(await broken.sign(broken.claims('api')))).toBe('auth_unavailable');
    });

    test('subscription with a provider token; revoked locally mid-subscription: closed with 4401 token_revoked', async () => {
      const t = await token([], { jti: `sub-${adapter}` });
      const { client, closed } = wsClient({ authorization: `Bearer ${t}` });
      const first = await take(client, 'subscription { ticks }', 2);
      expect(first.values).toEqual([{ ticks: 'tick0' }, { ticks: 'tick1' }]);
      void take(client, 'subscription { ticks }', 10_000);
      await auth.revokeToken(`sub-${adapter}`);
      expect(await closed).toMatchObject({ code: 4401, reason: 'token_revoked' });
    });

    test('subscription whose provider token expires: closed with 4401 token_expired', async () => {
      const { client, closed } = wsClient({ token: await token([], { exp: now() + 2 }) });
      void take(client, 'subscription { ticks }', 10_000);
      expect(await closed).toMatchObject({ code: 4401, reason: 'token_expired' });
    });

    test('a provider whose keys cannot be read: the connection is closed with 4503 auth_unavailable', async () => {
      const { closed } = wsClient({ token: await broken.sign(broken.claims('api')) });
      expect(await closed).toMatchObject({ code: 4503, reason: 'auth_unavailable' });
    });
  });

  describe('socket.io', () => {
    const connect = (t?: string): Socket => {
      const socket = io(`${url}/events`, { transports: ['websocket'], reconnection: false, auth: t === undefined ? {} : { token: t } });
      sockets.push(socket);
      return socket;
    };
    const call = (socket: Socket, event: string) =>
      new Promise<{ ack?: any; exception?: any }>((resolve) => {
        socket.once('exception', (exception: unknown) => resolve({ exception }));
        socket.emit(event, undefined, (ack: unknown) => resolve({ ack }));
      });

    test('a provider token at the handshake: the principal, its permissions', async () => {
      const socket = connect(await token(['articles:write']));
      await nextEvent(socket, 'connect');
      expect((await call(socket, 'whoami')).ack).toEqual({ id: 'user-1', username: 'ada' });
      expect((await call(socket, 'write')).ack).toEqual({ written: true });
      const reader = connect(await token(['articles:read']));
      await nextEvent(reader, 'connect');
      expect((await call(reader, 'write')).exception.code).toBe('permission_denied');
    });

    test.each<[string, string, () => Promise<string>]>([
      ['an expired token', 'token_expired', () => token([], { iat: now() - 100, exp: now() - 1 })],
      ['a wrong audience', 'token_invalid', () => provider.sign(provider.claims('other'))],
      ['a provider that cannot be read', 'auth_unavailable', () => broken.sign(broken.claims('api'))],
    ])('%s: refused at the handshake with %s', async (_name, code, make) => {
      const err = await nextEvent<Error & { data: { code: string } }>(connect(await make()), 'connect_error');
      expect(err.data.code).toBe(code);
    });

    test('a provider token without jti (Auth0, Entra ID) still ends the connection when it expires', async () => {
      const claims = provider.claims('api', { exp: now() + 2 }, now());
      delete claims.jti;
      const socket = connect(await provider.sign(claims, undefined, { typ: 'JWT' }));
      await nextEvent(socket, 'connect');
      expect((await nextEvent<{ code: string }>(socket, 'session.ended', 8000)).code).toBe('token_expired');
    });

    test('the subject cut off locally (revokeAllForUser): its sockets are disconnected with token_revoked', async () => {
      const socket = connect(await token([], { sub: `cut-${adapter}`, iat: now() - 2 }));
      await nextEvent(socket, 'connect');
      const ended = nextEvent<{ code: string }>(socket, 'session.ended', 5000);
      await auth.revokeAllForUser(`cut-${adapter}`);
      expect((await ended).code).toBe('token_revoked');
    });
  });
});
