import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { createClient, type Client } from 'graphql-ws';
import request from 'supertest';
import WebSocket from 'ws';
import type { AuthService } from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bootTransportApp, sleep, tokenFor } from '../support/transports.js';
import { eventually } from '../support/time.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { ArticlesResolver } from './resolvers.js';

describe.each(ADAPTERS)('GraphQL (Apollo), %s', (adapter) => {
  let app: INestApplication;
  let url: string;
  let auth: AuthService;
  let users: MemoryUsers;
  const clients: Client[] = [];

  const gql = (query: string, token?: string, variables?: Record<string, unknown>) => {
    const req = request(app.getHttpServer()).post('/graphql').set('content-type', 'application/json');
    if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
    return req.send({ query, variables });
  };
  const login = async (username: keyof typeof PASSWORDS) =>
    (await request(app.getHttpServer()).post('/auth/login').send({ username, password: PASSWORDS[username] })).body.accessToken as string;

  /** A graphql-ws client; `closed` resolves with the close event. */
  const wsClient = (connectionParams?: Record<string, unknown>, headers?: Record<string, string>) => {
    let onClosed!: (e: { code: number; reason: string }) => void;
    const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
    class HeaderWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    }
    const client = createClient({
      url: url.replace('http', 'ws') + '/graphql',
      webSocketImpl: HeaderWebSocket,
      connectionParams,
      retryAttempts: 0,
      onNonLazyError: () => undefined,
      lazy: false,
      on: { closed: (e) => onClosed(e as { code: number; reason: string }) },
    });
    clients.push(client);
    return { client, closed };
  };
  /** Collects `count` results of a subscription, or its error. */
  /** `values` may be the caller's array, to watch the values arrive while the subscription runs. */
  const take = (client: Client, query: string, count: number, values: unknown[] = []) =>
    new Promise<{ values: unknown[]; error?: any }>((resolve) => {
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

  beforeAll(async () => {
    users = await MemoryUsers.create();
    ({ app, url, auth } = await bootTransportApp(
      { jwt: { secret: SECRET }, users, revocation: { syncIntervalMs: 200 } },
      {
        adapter,
        controllers: [AuthController],
        providers: [ArticlesResolver],
        imports: [
          GraphQLModule.forRootAsync<ApolloDriverConfig>({
            driver: ApolloDriver,
            inject: [TransportAuth],
            useFactory: (transportAuth: TransportAuth) => ({
              autoSchemaFile: true,
              subscriptions: { 'graphql-ws': transportAuth.graphqlWs() },
            }),
          }),
        ],
      },
    ));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await app.close();
  });

  test('query me with a valid token', async () => {
    const res = await gql('{ me { id username } }', await tokenFor(auth, users.get('alice')));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: { me: { id: '1', username: 'alice' } } });
  });

  test('no token: UNAUTHENTICATED with authCode token_missing', async () => {
    const res = await gql('{ me { id } }');
    expect(res.status).toBe(200);
    expect(res.body.data).toBeNull();
    expect(res.body.errors[0]).toMatchObject({
      message: 'Authentication is required',
      extensions: { code: 'UNAUTHENTICATED', authCode: 'token_missing' },
    });
  });

  test('expired and malformed tokens', async () => {
    const expired = await tokenFor(auth, users.get('alice'), 1);
    await sleep(2100); // real time on purpose: the one-second token has expired
    expect((await gql('{ me { id } }', expired)).body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', authCode: 'token_expired' });
    expect((await gql('{ me { id } }', 'x.y.z')).body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', authCode: 'token_invalid' });
  });

  test('revoked token', async () => {
    const token = await tokenFor(auth, users.get('alice'));
    await auth.revokeToken(token);
    expect((await gql('{ me { id } }', token)).body.errors[0].extensions.authCode).toBe('token_revoked');
  });

  test('permissions: articles needs articles:read, createArticle articles:write (FORBIDDEN)', async () => {
    const alice = await tokenFor(auth, users.get('alice'));
    expect((await gql('{ articles { title } }', alice)).body.data.articles[0].title).toBe('first');
    const denied = await gql('mutation { createArticle(title: "x") { title } }', alice);
    expect(denied.body.errors[0]).toMatchObject({
      message: 'You do not have permission to perform this action',
      extensions: { code: 'FORBIDDEN', authCode: 'permission_denied' },
    });
    const bob = await tokenFor(auth, users.get('bob'));
    expect((await gql('mutation { createArticle(title: "x") { title } }', bob)).body.data.createArticle.title).toBe('x');
  });

  test('public query: guest and principal', async () => {
    expect((await gql('{ hello }')).body.data.hello).toBe('hello guest');
    expect((await gql('{ hello }', await tokenFor(auth, users.get('bob')))).body.data.hello).toBe('hello bob');
  });

  test('request context: listSessions() in a resolver sees its own operation only', async () => {
    const [a, b] = [await login('alice'), await login('bob')];
    const q = 'query($d: Float) { myCurrentSession(delayMs: $d) }';
    const [ra, rb] = await Promise.all([gql(q, a, { d: 80 }), gql(q, b, { d: 0 })]);
    expect(ra.body.data.myCurrentSession).toHaveLength(1);
    expect(rb.body.data.myCurrentSession).toHaveLength(1);
    expect(ra.body.data.myCurrentSession).not.toEqual(rb.body.data.myCurrentSession);
  });

  test('subscription with a token in connectionParams', async () => {
    const { client } = wsClient({ authorization: `Bearer ${await tokenFor(auth, users.get('alice'))}` });
    const { values, error } = await take(client, 'subscription { ticks }', 2);
    expect(error).toBeUndefined();
    expect(values).toEqual([{ ticks: 'tick0' }, { ticks: 'tick1' }]);
  });

  test('subscription with the token in the upgrade Authorization header', async () => {
    const { client } = wsClient(undefined, { Authorization: `Bearer ${await tokenFor(auth, users.get('bob'))}` });
    expect((await take(client, 'subscription { writerTicks }', 1)).values).toEqual([{ writerTicks: 'w0' }]);
  });

  test('subscription without a token: private refused with token_missing, public works', async () => {
    const { client } = wsClient();
    const denied = await take(client, 'subscription { ticks }', 1);
    const errors = denied.error ?? (denied.values[0] as { errors: any[] }).errors;
    expect(errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', authCode: 'token_missing' });
    expect((await take(client, 'subscription { publicTicks }', 1)).values).toEqual([{ publicTicks: 'p0' }]);
  });

  test('subscription lacking permission: FORBIDDEN', async () => {
    const { client } = wsClient({ token: await tokenFor(auth, users.get('alice')) });
    const denied = await take(client, 'subscription { writerTicks }', 1);
    const errors = denied.error ?? (denied.values[0] as { errors: any[] }).errors;
    expect(errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', authCode: 'permission_denied' });
  });

  test('bad token: the connection is closed at connection_init with 4401 and the code', async () => {
    const { closed } = wsClient({ authorization: 'Bearer not-a-token' });
    expect(await closed).toMatchObject({ code: 4401, reason: 'token_invalid' });
  });

  test('revoked mid-subscription (logout of the session): closed with 4401 token_revoked', async () => {
    const token = await login('alice');
    const { client, closed } = wsClient({ authorization: `Bearer ${token}` });
    const ticks: unknown[] = [];
    const running = take(client, 'subscription { ticks }', 1000, ticks);
    // The subscription is live (a tick arrived) before the logout: wait for it, bounded.
    await eventually(async () => ticks.length > 0, 'the first tick', 10_000);
    expect((await gql('{ me { id } }', token)).body.data.me.id).toBe('1');
    await request(app.getHttpServer()).post('/auth/logout').set('Authorization', `Bearer ${token}`).expect(204);
    expect(await closed).toMatchObject({ code: 4401, reason: 'token_revoked' });
    const { values } = await running;
    expect(values.length).toBeGreaterThan(0);
  });

  test('token expiring mid-subscription: closed with 4401 token_expired', async () => {
    const { client, closed } = wsClient({ token: await tokenFor(auth, users.get('alice'), 1) });
    void take(client, 'subscription { ticks }', 1000);
    expect(await closed).toMatchObject({ code: 4401, reason: 'token_expired' });
  });
});
