/**
 * Refusals reach every transport in its documented shape, and are not logged
 * as errors (#21 item 9). A login throttled (429 `too_many_attempts`) or shed
 * (503 `auth_busy`) inside a GraphQL mutation, a socket.io or ws message
 * handler and a TCP / NATS message handler: the client gets the code and a
 * retry hint; the app's logger gets no ERROR line from Nest's exception
 * handlers, for these nor for the guard's own refusals.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Args, GraphQLModule, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ClientProxyFactory, MessagePattern, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayInit } from '@nestjs/websockets';
import { Controller } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { firstValueFrom } from 'rxjs';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import WebSocket from 'ws';
import { AuthService, CurrentUser, Public, type AuthPrincipal } from '../../src/index.js';
import { TransportAuth, type WsClient } from '../../src/transports/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { GatedHasher } from '../support/gated-hasher.js';
import { bootTransportApp, nextEvent } from '../support/transports.js';
import { MemoryUsers } from '../support/users.js';
import { LoginService } from '../../src/login/login.service.js';

const NATS_URL = process.env.AUTH_TEST_NATS_URL;
if (!NATS_URL) console.log('refusals: AUTH_TEST_NATS_URL unset, the NATS case is skipped (TCP still runs)');

/** Every line Nest logs, with its level. */
class LevelLogger implements LoggerService {
  readonly lines: Array<{ level: string; text: string }> = [];
  log = (m: unknown, ...r: unknown[]) => this.keep('log', m, r);
  error = (m: unknown, ...r: unknown[]) => this.keep('error', m, r);
  warn = (m: unknown, ...r: unknown[]) => this.keep('warn', m, r);
  debug = (m: unknown, ...r: unknown[]) => this.keep('debug', m, r);
  verbose = (m: unknown, ...r: unknown[]) => this.keep('verbose', m, r);
  fatal = (m: unknown, ...r: unknown[]) => this.keep('fatal', m, r);
  private keep(level: string, m: unknown, r: unknown[]) {
    this.lines.push({ level, text: [m, ...r].map((p) => (p instanceof Error ? `${p.name}: ${p.message}` : String(p))).join(' ') });
  }
  get errors(): string[] {
    return this.lines.filter((l) => l.level === 'error' || l.level === 'fatal').map((l) => l.text);
  }
}

@Resolver()
class LoginResolver {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Mutation(() => String)
  async login(@Args('username', { type: () => String }) username: string, @Args('password', { type: () => String }) password: string) {
    return (await this.auth.login(username, password)).accessToken;
  }

  @Query(() => String)
  me(@CurrentUser() user: AuthPrincipal): string {
    return user.username;
  }
}

@WebSocketGateway({ namespace: '/refusals' })
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
    return { token: (await this.auth.login(body.username, body.password)).accessToken };
  }
  @SubscribeMessage('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user.username;
  }
}

@WebSocketGateway({ path: '/refusals-ws' })
class WsLoginGateway implements OnGatewayConnection {
  constructor(
    private readonly transportAuth: TransportAuth,
    private readonly auth: AuthService,
  ) {}
  async handleConnection(client: WsClient, req: IncomingMessage): Promise<void> {
    await this.transportAuth.acceptWs(client, req);
  }
  @Public()
  @SubscribeMessage('login')
  async login(@MessageBody() body: { username: string; password: string }) {
    return { event: 'login', data: { token: (await this.auth.login(body.username, body.password)).accessToken } };
  }
  @SubscribeMessage('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return { event: 'me', data: user.username };
  }
}

@Controller()
class RpcLoginHandlers {
  constructor(private readonly auth: AuthService) {}
  @Public()
  @MessagePattern('refusals.login')
  async login(@Payload() body: { username: string; password: string }) {
    return (await this.auth.login(body.username, body.password)).accessToken;
  }
  @MessagePattern('refusals.me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user.username;
  }
}

const throttle = { perAccount: { limit: 2, windowSeconds: 600 }, pacingMs: false as const };

/** Sends wrong passwords for `username` through `attempt` until it answers something other than invalid_credentials. */
async function untilRefused<T>(attempt: () => Promise<T>, codeOf: (answer: T) => string | undefined): Promise<T> {
  for (let i = 0; i < 10; i++) {
    const answer = await attempt();
    if (codeOf(answer) !== 'invalid_credentials') return answer;
  }
  throw new Error('never refused');
}

describe.each(ADAPTERS)('refusals off HTTP reach the client in their shape, never an ERROR log (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let logger: LevelLogger;
  let hasher: GatedHasher;
  let tcp: ClientProxy;
  let nats: ClientProxy | undefined;
  const sockets: Socket[] = [];
  const tcpPort = 43000 + Math.floor(Math.random() * 2000);

  const gql = (query: string, variables?: Record<string, unknown>) =>
    request(app.getHttpServer()).post('/graphql').set('content-type', 'application/json').send({ query, variables });
  const gqlLogin = (username: string) =>
    gql('mutation($u: String!, $p: String!) { login(username: $u, password: $p) }', { u: username, p: 'wrong-password' });
  const socketCall = (socket: Socket, event: string, data?: unknown) =>
    new Promise<{ ack?: any; exception?: any }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 10_000);
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
  const rpc = (client: ClientProxy, pattern: string, data: unknown) =>
    firstValueFrom(client.send(pattern, data)).then(
      (value) => ({ value, error: undefined as any }),
      (error: unknown) => ({ value: undefined, error: error as any }),
    );

  beforeAll(async () => {
    logger = new LevelLogger();
    hasher = new GatedHasher();
    ({ app, url } = await bootTransportApp(
      {
        jwt: { secret: SECRET },
        users: await MemoryUsers.create(),
        passwordHasher: hasher,
        loginThrottle: { ...throttle, passwordChecks: { concurrency: 1, maxQueued: 1, retryAfterSeconds: 2 } },
      },
      {
        adapter,
        logger,
        controllers: [AuthController, RpcLoginHandlers],
        providers: [LoginResolver, SocketIoLoginGateway],
        imports: [
          GraphQLModule.forRootAsync<ApolloDriverConfig>({
            driver: ApolloDriver,
            inject: [TransportAuth],
            useFactory: (t: TransportAuth) => ({ autoSchemaFile: true, subscriptions: { 'graphql-ws': t.graphqlWs() } }),
          }),
        ],
        configure: (a) => {
          a.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } }, { inheritAppConfig: true });
          if (NATS_URL) a.connectMicroservice({ transport: Transport.NATS, options: { servers: [NATS_URL] } }, { inheritAppConfig: true });
        },
      },
    ));
    await app.startAllMicroservices();
    tcp = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    await tcp.connect();
    if (NATS_URL) {
      nats = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [NATS_URL] } });
      await nats.connect();
    }
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await Promise.all([tcp?.close(), nats?.close()]);
    await app?.close();
  });

  test('GraphQL mutation: TOO_MANY_REQUESTS, authCode too_many_attempts, retryAfter and Retry-After', async () => {
    const res = await untilRefused(
      () => gqlLogin(`gql-${adapter}`),
      (r) => r.body.errors?.[0]?.extensions?.authCode,
    );
    expect(res.status).toBe(200);
    expect(res.body.errors[0].message).toBe('Too many attempts: try again later');
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_REQUESTS', authCode: 'too_many_attempts' });
    const retryAfter = res.body.errors[0].extensions.retryAfter;
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    // Express links the response to the request; on Fastify only an app context that passes `res` gets the header.
    if (adapter === 'express') expect(res.headers['retry-after']).toBe(String(retryAfter));
  });

  test('socket.io message: exception { status, code: too_many_attempts, message, retryAfter }', async () => {
    const socket = io(`${url}/refusals`, { transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    await nextEvent(socket, 'connect');
    const { exception } = await untilRefused(
      () => socketCall(socket, 'login', { username: `sio-${adapter}`, password: 'wrong-password' }),
      (r) => r.exception?.code,
    );
    expect(exception).toEqual({ status: 'error', code: 'too_many_attempts', message: expect.any(String), retryAfter: expect.any(Number) });
    expect(exception.retryAfter).toBeGreaterThanOrEqual(1);
  });

  test('TCP (and NATS) message: the client observable errors with { code: too_many_attempts, message, retryAfter }', async () => {
    for (const [name, client] of [
      ['tcp', tcp],
      ['nats', nats],
    ] as const) {
      if (client === undefined) continue;
      const { error } = await untilRefused(
        () => rpc(client, 'refusals.login', { username: `${name}-${adapter}`, password: 'wrong-password' }),
        (r) => r.error?.code,
      );
      expect(error).toEqual({ code: 'too_many_attempts', message: expect.any(String), retryAfter: expect.any(Number) });
    }
  });

  test('a full password-check queue: auth_busy with its retry hint, on GraphQL, socket.io and TCP', async () => {
    const http = request(app.getHttpServer());
    hasher.hold();
    // One check running, one queued: the queue is full.
    const held = [0, 1].map((i) =>
      http
        .post('/auth/login')
        .send({ username: `busy-holder-${adapter}-${i}`, password: 'x' })
        .then((r) => r),
    );
    // Until the second holder waits in the queue (the queue is full), not a fixed pause after the first one's check.
    const deadline = Date.now() + 10_000;
    while (!app.get(LoginService).checks.full && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    try {
      const res = await gqlLogin(`busy-gql-${adapter}`);
      expect(res.body.errors[0].extensions).toMatchObject({ code: 'SERVICE_UNAVAILABLE', authCode: 'auth_busy', retryAfter: expect.any(Number) });
      if (adapter === 'express') expect(res.headers['retry-after']).toBe(String(res.body.errors[0].extensions.retryAfter));

      const socket = io(`${url}/refusals`, { transports: ['websocket'], reconnection: false });
      sockets.push(socket);
      await nextEvent(socket, 'connect');
      const { exception } = await socketCall(socket, 'login', { username: `busy-sio-${adapter}`, password: 'x' });
      expect(exception).toMatchObject({ status: 'error', code: 'auth_busy', retryAfter: expect.any(Number) });

      const { error } = await rpc(tcp, 'refusals.login', { username: `busy-tcp-${adapter}`, password: 'x' });
      expect(error).toMatchObject({ code: 'auth_busy', retryAfter: expect.any(Number) });
    } finally {
      hasher.release();
      await Promise.all(held);
    }
  });

  test("the guard's refusals keep their shape (no retry hint where there is none)", async () => {
    const res = await gql('{ me }');
    expect(res.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', authCode: 'token_missing' });
    const { error } = await rpc(tcp, 'refusals.me', {});
    expect(error).toEqual({ code: 'token_missing', message: expect.any(String) });
  });

  test('none of these refusals (40 refused resolver calls among them) wrote an ERROR line', async () => {
    for (let i = 0; i < 40; i++) await gql('{ me }');
    for (let i = 0; i < 5; i++) await gqlLogin(`gql-${adapter}`);
    expect(logger.errors).toEqual([]);
  });
});

describe.each(ADAPTERS)('refusals on a ws gateway (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let logger: LevelLogger;
  const clients: WebSocket[] = [];

  beforeAll(async () => {
    logger = new LevelLogger();
    ({ app, url } = await bootTransportApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle: throttle },
      { adapter, logger, providers: [WsLoginGateway], controllers: [AuthController], configure: (a) => void a.useWebSocketAdapter(new WsAdapter(a)) },
    ));
  });
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await app?.close();
  });

  test('ws message: { event: exception, data: { status, code: too_many_attempts, message, retryAfter } }, no ERROR line', async () => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/refusals-ws');
    clients.push(ws);
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const frames: any[] = [];
    ws.on('message', (raw) => frames.push(JSON.parse(String(raw))));
    const send = async (event: string, data: unknown) => {
      const seen = frames.length;
      ws.send(JSON.stringify({ event, data }));
      const deadline = Date.now() + 10_000;
      while (frames.length === seen && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return frames[seen];
    };
    const frame = await untilRefused(
      () => send('login', { username: `ws-${adapter}`, password: 'wrong-password' }),
      (f) => f?.data?.code,
    );
    expect(frame).toEqual({
      event: 'exception',
      data: { status: 'error', code: 'too_many_attempts', message: expect.any(String), retryAfter: expect.any(Number) },
    });
    expect((await send('me', {})).data).toMatchObject({ code: 'token_missing' });
    expect(logger.errors).toEqual([]);
  });
});
