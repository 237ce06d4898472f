import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, type INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Args, GraphQLModule, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ClientProxyFactory, MessagePattern, NatsRecordBuilder, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayInit } from '@nestjs/websockets';
import { Test } from '@nestjs/testing';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { createClient } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { firstValueFrom } from 'rxjs';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { AuthModule, AuthService, Public, type AuditEvent, type AuthModuleForRootOptions } from '../../src/index.js';
import { AuthTransportsModule, TransportAuth, type WsClient } from '../../src/transports/index.js';
import { ADAPTERS, SECRET, type Adapter } from '../support/app.js';
import { uniqueTestName } from '../support/databases.js';
import { MemoryUsers, PASSWORDS, withUsersHasher } from '../support/users.js';

/** Every transport's login answers this: what came back, or the error the transport delivered (its shape is not this suite's). */
type Outcome = { ok: true } | { ok: false; error: unknown };
const settle = (p: Promise<unknown>): Promise<Outcome> =>
  p.then(
    () => ({ ok: true }) as const,
    (error: unknown) => ({ ok: false, error }) as const,
  );

@Resolver()
class LoginResolver {
  constructor(private readonly auth: AuthService) {}
  @Public()
  @Query(() => String)
  hello() {
    return 'hello';
  }
  @Public()
  @Mutation(() => String)
  async login(@Args('username') username: string, @Args('password') password: string): Promise<string> {
    return (await this.auth.login(username, password)).accessToken ?? '';
  }
}

@WebSocketGateway({ namespace: '/throttle' })
class SocketIoLoginGateway implements OnGatewayInit {
  constructor(
    private readonly transportAuth: TransportAuth,
    private readonly auth: AuthService,
  ) {}
  afterInit(server: { use(mw: unknown): void }): void {
    server.use(this.transportAuth.socketIoMiddleware());
  }
  @Public()
  @SubscribeMessage('login')
  async login(@MessageBody() body: { username: string; password: string }) {
    await this.auth.login(body.username, body.password);
    return { ok: true };
  }
}

@WebSocketGateway({ path: '/throttle-ws' })
class WsLoginGateway implements OnGatewayConnection {
  constructor(
    private readonly transportAuth: TransportAuth,
    private readonly auth: AuthService,
  ) {}
  async handleConnection(client: WsClient, request: IncomingMessage): Promise<void> {
    await this.transportAuth.acceptWs(client, request);
  }
  @Public()
  @SubscribeMessage('login')
  async login(@MessageBody() body: { username: string; password: string }) {
    await this.auth.login(body.username, body.password);
    return { event: 'login', data: { ok: true } };
  }
}

const SUBJECT = uniqueTestName('throttle.login');

@Controller()
class NatsLoginHandler {
  constructor(private readonly auth: AuthService) {}
  @Public()
  @MessagePattern(SUBJECT)
  async login(@Payload() body: { username: string; password: string }) {
    await this.auth.login(body.username, body.password);
    return { ok: true };
  }
}

/** The client claims this address through the proxy the app trusts (loopback): the app must count it. */
const CLIENT = '203.0.113.7';
const LIMITS = {
  perIp: { limit: 3, windowSeconds: 60 },
  perAccountAndIp: false,
  perAccount: { limit: 3, windowSeconds: 60 },
  pacingMs: false,
} as const;

async function boot(
  adapter: Adapter,
  options: Partial<AuthModuleForRootOptions>,
  metadata: { providers?: any[]; controllers?: any[]; imports?: any[] },
  configure?: (app: INestApplication) => void,
) {
  const events: AuditEvent[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [
      ...(metadata.imports ?? []),
      AuthModule.forRoot(
        withUsersHasher({
          jwt: { secret: SECRET },
          users: await MemoryUsers.create(),
          audit: { emit: (e: AuditEvent) => void events.push(e) },
          ...options,
        }),
      ),
      AuthTransportsModule.forRoot(),
    ],
    providers: metadata.providers ?? [],
    controllers: metadata.controllers ?? [],
  }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy: 'loopback' }))
      : moduleRef.createNestApplication<NestExpressApplication>();
  if (adapter === 'express') (app as NestExpressApplication).set('trust proxy', 'loopback');
  app.useLogger(false);
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  return { app, url, events };
}

/** The refusals the throttle made, by counter and address (the audit event is the module's record of each). */
const throttled = (events: AuditEvent[]) => events.filter((e) => e.type === 'login.throttled').map((e) => ({ reason: e.reason, ip: e.ip }));

describe.each(ADAPTERS)('the login throttle over WebSocket transports, %s (behind a trusted proxy)', (adapter) => {
  describe('graphql-ws mutation', () => {
    let app: INestApplication;
    let url: string;
    let events: AuditEvent[];
    beforeAll(async () => {
      ({ app, url, events } = await boot(
        adapter,
        { loginThrottle: LIMITS },
        {
          providers: [LoginResolver],
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
    afterAll(() => app.close());

    test("the upgrade request's forwarded address is counted per IP: spraying names over one connection reaches the per-IP limit", async () => {
      class ProxiedWebSocket extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers: { 'X-Forwarded-For': CLIENT } });
        }
      }
      const client = createClient({ url: url.replace('http', 'ws') + '/graphql', webSocketImpl: ProxiedWebSocket, retryAttempts: 0, lazy: true });
      const login = (username: string) =>
        new Promise<Outcome>((resolve) => {
          client.subscribe(
            { query: 'mutation ($u: String!, $p: String!) { login(username: $u, password: $p) }', variables: { u: username, p: 'wrong' } },
            {
              next: (v) => resolve(v.errors ? { ok: false, error: v.errors } : { ok: true }),
              error: (error) => resolve({ ok: false, error }),
              complete: () => undefined,
            },
          );
        });
      try {
        for (let i = 0; i < 5; i++) await login(`spray-${i}`);
      } finally {
        await client.dispose();
      }
      expect(throttled(events)).toEqual([
        { reason: 'perIp', ip: CLIENT },
        { reason: 'perIp', ip: CLIENT },
      ]);
      expect(events.filter((e) => e.type === 'login.failed').map((e) => e.ip)).toEqual([CLIENT, CLIENT, CLIENT]);
    });
  });

  describe('socket.io gateway', () => {
    let app: INestApplication;
    let url: string;
    let events: AuditEvent[];
    beforeAll(async () => {
      ({ app, url, events } = await boot(adapter, { loginThrottle: LIMITS }, { providers: [SocketIoLoginGateway] }));
    });
    afterAll(() => app.close());

    test("the handshake's forwarded address is counted per IP", async () => {
      const socket = io(`${url}/throttle`, { transports: ['websocket'], reconnection: false, extraHeaders: { 'X-Forwarded-For': CLIENT } });
      try {
        await new Promise<void>((r, j) => (socket.once('connect', () => r()), socket.once('connect_error', j)));
        const login = (username: string) =>
          new Promise<Outcome>((resolve) => {
            socket.once('exception', (error: unknown) => resolve({ ok: false, error }));
            socket.emit('login', { username, password: 'wrong' }, () => resolve({ ok: true }));
          });
        for (let i = 0; i < 5; i++) await login(`spray-${i}`);
      } finally {
        socket.disconnect();
      }
      expect(throttled(events)).toEqual([
        { reason: 'perIp', ip: CLIENT },
        { reason: 'perIp', ip: CLIENT },
      ]);
    });
  });

  describe('ws gateway (@nestjs/platform-ws)', () => {
    let app: INestApplication;
    let url: string;
    let events: AuditEvent[];
    beforeAll(async () => {
      ({ app, url, events } = await boot(adapter, { loginThrottle: LIMITS }, { providers: [WsLoginGateway] }, (a) =>
        a.useWebSocketAdapter(new WsAdapter(a)),
      ));
    });
    afterAll(() => app.close());

    test("the upgrade request's forwarded address is counted per IP", async () => {
      const ws = new WebSocket(url.replace('http', 'ws') + '/throttle-ws', { headers: { 'X-Forwarded-For': CLIENT } });
      try {
        await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
        const login = (username: string) =>
          new Promise<Outcome>((resolve) => {
            ws.once('message', (raw) => {
              const frame = JSON.parse(String(raw)) as { event: string; data: unknown };
              resolve(frame.event === 'login' ? { ok: true } : { ok: false, error: frame.data });
            });
            ws.send(JSON.stringify({ event: 'login', data: { username, password: 'wrong' } }));
          });
        for (let i = 0; i < 5; i++) await login(`spray-${i}`);
      } finally {
        ws.close();
      }
      expect(throttled(events)).toEqual([
        { reason: 'perIp', ip: CLIENT },
        { reason: 'perIp', ip: CLIENT },
      ]);
    });
  });
});

const NATS_URL = process.env.AUTH_TEST_NATS_URL;
if (!NATS_URL) process.stdout.write('[throttle transports] NATS skipped (set AUTH_TEST_NATS_URL)\n');
// Skipped only without a NATS server (AUTH_TEST_NATS_URL; .ci/run sets it), with the line above saying so.
const describeNats = NATS_URL ? describe : describe.skip;

describeNats('the login throttle over NATS (no address of its own)', () => {
  let app: INestApplication;
  let events: AuditEvent[];
  let nats: ClientProxy;
  beforeAll(async () => {
    ({ app, events } = await boot(
      'express',
      {
        loginThrottle: {
          ...LIMITS,
          // The app's gateway writes the client's address in a header only it may publish (NATS permissions).
          clientAddress: (call) =>
            call.type === 'rpc' && typeof call.headers?.['x-gateway-client-ip'] === 'string' ? call.headers['x-gateway-client-ip'] : undefined,
        },
      },
      { controllers: [NatsLoginHandler] },
      (a) => a.connectMicroservice({ transport: Transport.NATS, options: { servers: [NATS_URL!] } }, { inheritAppConfig: true }),
    ));
    await app.startAllMicroservices();
    nats = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [NATS_URL!] } });
    await nats.connect();
  });
  afterAll(async () => {
    await nats?.close();
    await app?.close();
  });
  const login = (username: string, password: string, clientIp?: string) => {
    const h = natsHeaders();
    if (clientIp) h.set('x-gateway-client-ip', clientIp);
    return settle(firstValueFrom(nats.send(SUBJECT, new NatsRecordBuilder({ username, password }).setHeaders(h).build())));
  };

  test('without an address the per-account limit holds: after alice is throttled over HTTP-less messages, her right password is refused', async () => {
    for (let i = 0; i < 3; i++) expect(await login('alice', 'wrong')).toMatchObject({ ok: false });
    expect(await login('alice', PASSWORDS.alice)).toMatchObject({ ok: false });
    expect(throttled(events)).toEqual([{ reason: 'perAccount', ip: undefined }]);
  });

  test('with the address the app supplies (loginThrottle.clientAddress), per-IP limits count it', async () => {
    events.length = 0;
    for (let i = 0; i < 5; i++) await login(`spray-${i}`, 'wrong', CLIENT);
    expect(throttled(events)).toEqual([
      { reason: 'perIp', ip: CLIENT },
      { reason: 'perIp', ip: CLIENT },
    ]);
  });
});
