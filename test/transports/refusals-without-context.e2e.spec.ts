/**
 * With `requestContext: false` no context tells `AuthService` which transport a
 * call of it serves. Its refusals still reach a GraphQL client, a socket.io
 * client and a TCP client in their documented shapes, with the code and the
 * retry hint (#21 item 9 in every requestContext mode): the refusal stays
 * borne by the HTTP exception, and the refusal interceptor the module puts on
 * the classes that reach AuthService maps it to the handler's transport. Until
 * then a GraphQL client got Apollo's `UNAUTHENTICATED` without `authCode` (and
 * `INTERNAL_SERVER_ERROR` for a 429), a socket.io client "Internal server error".
 * HTTP keeps Nest's own exception and body.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { Controller } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Args, GraphQLModule, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ClientProxyFactory, MessagePattern, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { firstValueFrom } from 'rxjs';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import { AuthContext, AuthService, Public, type AuthContextData, type AuthModuleOptions } from '../../src/index.js';
import { CLASS_REFUSAL_INTERCEPTOR } from '../../src/context/refusal.interceptor.js';
import { TransportAuth } from '../../src/transports/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bootTransportApp, nextEvent } from '../support/transports.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/** The ERROR lines Nest logs. */
class ErrorLines implements LoggerService {
  readonly errors: string[] = [];
  log = () => undefined;
  warn = () => undefined;
  debug = () => undefined;
  verbose = () => undefined;
  error = (m: unknown) => void this.errors.push(String(m));
  fatal = (m: unknown) => void this.errors.push(String(m));
}

@Resolver()
class NoContextResolver {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Mutation(() => String)
  async login(@Args('username', { type: () => String }) username: string, @Args('password', { type: () => String }) password: string) {
    return (await this.auth.login(username, password)).accessToken;
  }

  /** The ambient form has no context to act on here: 401 token_missing. */
  @Mutation(() => Boolean)
  async logoutAmbient() {
    await this.auth.logout();
    return true;
  }

  @Query(() => String)
  ping(@AuthContext() ctx: AuthContextData): string {
    return ctx.userId;
  }
}

@WebSocketGateway({ namespace: '/no-context' })
class NoContextGateway implements OnGatewayInit {
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
  @Public()
  @SubscribeMessage('refresh')
  async refresh(@MessageBody() body: { refreshToken: string }) {
    return await this.auth.refresh(body.refreshToken);
  }
}

@Controller()
class NoContextRpc {
  constructor(private readonly auth: AuthService) {}
  @Public()
  @MessagePattern('no-context.login')
  async login(@Payload() body: { username: string; password: string }) {
    return (await this.auth.login(body.username, body.password)).accessToken;
  }
}

const throttle = { perAccount: { limit: 2, windowSeconds: 600 }, pacingMs: false as const };

describe.each(ADAPTERS)('requestContext: false: AuthService refusals keep their code off HTTP (%s)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let tcp: ClientProxy;
  let logger: ErrorLines;
  const sockets: Socket[] = [];
  const tcpPort = 45000 + Math.floor(Math.random() * 2000);

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
  const connect = async () => {
    const socket = io(`${url}/no-context`, { transports: ['websocket'], reconnection: false });
    sockets.push(socket);
    await nextEvent(socket, 'connect');
    return socket;
  };

  beforeAll(async () => {
    logger = new ErrorLines();
    const options = { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle: throttle, requestContext: false };
    ({ app, url } = await bootTransportApp(options as AuthModuleOptions, {
      adapter,
      logger,
      controllers: [AuthController, NoContextRpc],
      providers: [NoContextResolver, NoContextGateway],
      imports: [GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true })],
      configure: (a) =>
        void a.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } }, { inheritAppConfig: true }),
    }));
    await app.startAllMicroservices();
    tcp = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    await tcp.connect();
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await tcp?.close();
    await app?.close();
  });

  test('GraphQL mutation: a bad login is UNAUTHENTICATED with authCode invalid_credentials; the throttle TOO_MANY_REQUESTS with retryAfter', async () => {
    const bad = await gqlLogin(`gql-${adapter}`);
    expect(bad.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', authCode: 'invalid_credentials' });
    let res = bad;
    for (let i = 0; i < 5 && res.body.errors?.[0]?.extensions?.authCode === 'invalid_credentials'; i++) res = await gqlLogin(`gql-${adapter}`);
    expect(res.body.errors[0].message).toBe('Too many attempts: try again later');
    expect(res.body.errors[0].extensions).toEqual({ code: 'TOO_MANY_REQUESTS', authCode: 'too_many_attempts', retryAfter: expect.any(Number) });
    expect(res.body.errors[0].extensions.retryAfter).toBeGreaterThanOrEqual(1);
  });

  test('GraphQL mutation: the ambient logout without a context is UNAUTHENTICATED with authCode token_missing', async () => {
    const login = await request(app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(login.status).toBe(200);
    const res = await gql('mutation { logoutAmbient }').set('authorization', `Bearer ${login.body.accessToken}`);
    expect(res.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', authCode: 'token_missing' });
  });

  test('socket.io message: exception { status, code, message } for a bad login, a bad refresh token and the throttle', async () => {
    const socket = await connect();
    const bad = await socketCall(socket, 'login', { username: `sio-${adapter}`, password: 'wrong-password' });
    expect(bad.exception).toEqual({ status: 'error', code: 'invalid_credentials', message: 'Invalid username or password' });
    const refresh = await socketCall(socket, 'refresh', { refreshToken: 'not-a-token' });
    expect(refresh.exception).toMatchObject({ status: 'error', code: expect.stringMatching(/^token_/) });
    let out = bad;
    for (let i = 0; i < 5 && out.exception?.code === 'invalid_credentials'; i++) {
      out = await socketCall(socket, 'login', { username: `sio-${adapter}`, password: 'wrong-password' });
    }
    expect(out.exception).toEqual({ status: 'error', code: 'too_many_attempts', message: expect.any(String), retryAfter: expect.any(Number) });
  });

  test('TCP message: the client observable errors with { code, message }', async () => {
    const error = await firstValueFrom(tcp.send('no-context.login', { username: `tcp-${adapter}`, password: 'wrong-password' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toEqual({ code: 'invalid_credentials', message: 'Invalid username or password' });
  });

  test('the refusal interceptor sits on the resolver, the gateway and the message handlers, never on an HTTP-only controller', () => {
    const bound = (type: Function) =>
      ((Reflect.getMetadata(INTERCEPTORS_METADATA, type) as unknown[] | undefined) ?? []).includes(CLASS_REFUSAL_INTERCEPTOR);
    expect([NoContextResolver, NoContextGateway, NoContextRpc].map(bound)).toEqual([true, true, true]);
    expect(bound(AuthController)).toBe(false);
  });

  test('HTTP keeps Nest exception and body; none of these refusals wrote an ERROR line', async () => {
    const res = await request(app.getHttpServer())
      .post('/auth/login')
      .send({ username: `http-${adapter}`, password: 'wrong-password' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid username or password', code: 'invalid_credentials' });
    expect(logger.errors).toEqual([]);
  });
});
