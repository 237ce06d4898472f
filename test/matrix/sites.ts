/**
 * The call sites of the matrix: where an app calls AuthService from. Each site
 * is a set of app classes (built per row, so the row's guard can be placed on
 * them) and a client the flows drive it through, answering `Out`: the result,
 * or the refusal's `code` (`not_found` when a session to end is not the caller's).
 */
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Injectable,
  NotFoundException,
  Param,
  Post,
  UseGuards,
  type CanActivate,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { Args, Field, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { io } from 'socket.io-client';
import request from 'supertest';
import {
  AuthContext,
  AuthService,
  CurrentUser,
  LoginDto,
  PermissionRequired,
  Public,
  RefreshTokenDto,
  type AuthContextData,
  type AuthPrincipal,
} from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';

export type Out = { ok: true; body: any } | { ok: false; code: string };
export const CALL_SITES = ['controller', 'service', 'job', 'graphql', 'socket.io'] as const;
export type CallSite = (typeof CALL_SITES)[number];

/** What the flows do through a call site (`access`: the access token of the caller). */
export interface SiteClient {
  login(username: string, password: string): Promise<Out>;
  refresh(refreshToken: string): Promise<Out>;
  refreshCurrent(access: string): Promise<Out>;
  logout(access: string): Promise<Out>;
  logoutAll(access: string): Promise<Out>;
  sessions(access: string): Promise<Out>;
  endSession(access: string, id: string): Promise<Out>;
  revoke(access: string, token: string): Promise<Out>;
  /** The operations behind `articles:read` and `articles:write`. */
  read(access: string | undefined): Promise<Out>;
  write(access: string): Promise<Out>;
}

/** An app's own service between the controller and AuthService (requestContext 'auto' must follow the chain). */
@Injectable()
export class AccountService {
  constructor(private readonly auth: AuthService) {}
  login = (u: string, p: string) => this.auth.login(u, p);
  refresh = (t: string) => this.auth.refresh(t);
  refreshCurrentSessionToken = () => this.auth.refreshCurrentSessionToken();
  logout = () => this.auth.logout();
  revokeAllForUser = (id: string) => this.auth.revokeAllForUser(id);
  listSessions = () => this.auth.listSessions();
  endSession = (id: string) => this.auth.endSession(id);
  revokeToken = (t: string) => this.auth.revokeToken(t);
}

/**
 * A job: a plain provider the test calls outside any request. The context-bound methods take the caller
 * explicitly, an `AuthContextData` a request handed over (`POST /auth/hold`, `@AuthContext()`), as a queue
 * message would carry it; login, refresh, revokeToken and revokeAllForUser need no caller.
 */
@Injectable()
export class MatrixJob {
  private readonly held = new Map<string, AuthContextData>();
  private next = 0;
  constructor(private readonly auth: AuthService) {}
  hold(caller: AuthContextData): string {
    const id = String(this.next++);
    this.held.set(id, caller);
    return id;
  }
  caller = (id: string) => this.held.get(id)!;
  login = (u: string, p: string) => this.auth.login(u, p);
  refresh = (t: string) => this.auth.refresh(t);
  refreshCurrent = (id: string) => this.auth.refreshCurrentSessionToken(this.caller(id));
  logout = (id: string) => this.auth.logout(this.caller(id));
  logoutAll = (id: string) => this.auth.revokeAllForUser(this.caller(id).userId!);
  sessions = (id: string) => this.auth.listSessions(this.caller(id));
  endSession = (id: string, session: string) => this.auth.endSession(session, this.caller(id));
  revoke = (t: string) => this.auth.revokeToken(t);
}

@ObjectType()
class MatrixPair {
  @Field(() => String) accessToken!: string;
  @Field(() => String) refreshToken!: string;
}
@ObjectType()
class MatrixSession {
  @Field(() => String) id!: string;
  @Field(() => Boolean) current!: boolean;
}

const guarded = (guard: Type<CanActivate> | undefined, classes: Type[]) => {
  if (guard !== undefined) for (const c of classes) UseGuards(guard)(c);
  return classes;
};

/** The row's app classes: HTTP controllers always (the flows check tokens on `GET /articles`), plus the site's own. */
export function siteClasses(site: CallSite, guard: Type<CanActivate> | undefined, transportGuard: Type<CanActivate> | undefined) {
  const calls: Type = site === 'service' ? AccountService : AuthService;

  @Controller('auth')
  class MatrixAuthController {
    constructor(
      @Inject(calls) private readonly auth: AccountService,
      private readonly job: MatrixJob,
    ) {}

    @Public()
    @Post('login')
    @HttpCode(200)
    login(@Body() body: LoginDto) {
      return this.auth.login(body.username, body.password);
    }

    @Public()
    @Post('refresh')
    @HttpCode(200)
    refresh(@Body() body: RefreshTokenDto) {
      return this.auth.refresh(body.refreshToken!);
    }

    @Post('refresh-current')
    @HttpCode(200)
    refreshCurrent() {
      return this.auth.refreshCurrentSessionToken();
    }

    @Post('logout')
    @HttpCode(204)
    async logout() {
      await this.auth.logout();
    }

    @Post('logout-all')
    @HttpCode(204)
    async logoutAll(@CurrentUser() user: AuthPrincipal) {
      await this.auth.revokeAllForUser(user.id);
    }

    @Get('sessions')
    sessions() {
      return this.auth.listSessions();
    }

    @Delete('sessions/:id')
    @HttpCode(204)
    async endSession(@Param('id') id: string) {
      if (!(await this.auth.endSession(id))) throw new NotFoundException('No such session');
    }

    @Post('revoke')
    @HttpCode(204)
    async revoke(@Body() body: RefreshTokenDto) {
      // RefreshTokenDto: one validated token string (any token revokes by its jti).
      await this.auth.revokeToken(body.refreshToken!);
    }

    /** Hands this request's caller to the job (call site "job"). */
    @Post('hold')
    @HttpCode(200)
    hold(@AuthContext() caller: AuthContextData) {
      return { id: this.job.hold(caller) };
    }
  }

  @Controller('articles')
  class MatrixArticlesController {
    @PermissionRequired('articles:read')
    @Get()
    list(@CurrentUser() user: AuthPrincipal) {
      return { reader: user.username ?? user.id };
    }

    @PermissionRequired('articles:write')
    @Post()
    create(@CurrentUser() user: AuthPrincipal) {
      return { author: user.username };
    }
  }

  const controllers = guarded(guard, [MatrixAuthController, MatrixArticlesController]);
  const providers: Type[] = [AccountService, MatrixJob];

  if (site === 'graphql') {
    @Resolver()
    class MatrixResolver {
      constructor(private readonly auth: AuthService) {}
      @Public() @Mutation(() => MatrixPair) login(
        @Args('username', { type: () => String }) u: string,
        @Args('password', { type: () => String }) p: string,
      ) {
        return this.auth.login(u, p);
      }
      @Public() @Mutation(() => MatrixPair) refresh(@Args('refreshToken', { type: () => String }) t: string) {
        return this.auth.refresh(t);
      }
      @Mutation(() => MatrixPair) refreshCurrent() {
        return this.auth.refreshCurrentSessionToken();
      }
      @Mutation(() => Boolean) async logout() {
        await this.auth.logout();
        return true;
      }
      @Mutation(() => Boolean) async logoutAll(@CurrentUser() user: AuthPrincipal) {
        await this.auth.revokeAllForUser(user.id);
        return true;
      }
      @Query(() => [MatrixSession]) sessions() {
        return this.auth.listSessions();
      }
      @Mutation(() => Boolean) endSession(@Args('id', { type: () => String }) id: string) {
        return this.auth.endSession(id);
      }
      @Mutation(() => Boolean) async revoke(@Args('token', { type: () => String }) t: string) {
        await this.auth.revokeToken(t);
        return true;
      }
      @PermissionRequired('articles:read') @Query(() => String) read(@CurrentUser() user: AuthPrincipal) {
        return user.username ?? user.id;
      }
      @PermissionRequired('articles:write') @Mutation(() => String) write(@CurrentUser() user: AuthPrincipal) {
        return user.username ?? user.id;
      }
    }
    providers.push(...guarded(transportGuard, [MatrixResolver]));
  }

  if (site === 'socket.io') {
    @WebSocketGateway({ namespace: '/matrix' })
    class MatrixGateway implements OnGatewayInit {
      constructor(
        private readonly transportAuth: TransportAuth,
        private readonly auth: AuthService,
      ) {}
      afterInit(server: { use(mw: unknown): void }): void {
        server.use(this.transportAuth.socketIoMiddleware());
      }
      @Public() @SubscribeMessage('login') login(@MessageBody() b: { username: string; password: string }) {
        return this.auth.login(b.username, b.password);
      }
      @Public() @SubscribeMessage('refresh') refresh(@MessageBody() t: string) {
        return this.auth.refresh(t);
      }
      @SubscribeMessage('refreshCurrent') refreshCurrent() {
        return this.auth.refreshCurrentSessionToken();
      }
      @SubscribeMessage('logout') async logout() {
        await this.auth.logout();
        return true;
      }
      @SubscribeMessage('logoutAll') async logoutAll(@CurrentUser() user: AuthPrincipal) {
        await this.auth.revokeAllForUser(user.id);
        return true;
      }
      @SubscribeMessage('sessions') sessions() {
        return this.auth.listSessions();
      }
      @SubscribeMessage('endSession') endSession(@MessageBody() id: string) {
        return this.auth.endSession(id);
      }
      @SubscribeMessage('revoke') async revoke(@MessageBody() t: string) {
        await this.auth.revokeToken(t);
        return true;
      }
      @PermissionRequired('articles:read') @SubscribeMessage('read') read(@CurrentUser() user: AuthPrincipal) {
        return user.username ?? user.id;
      }
      @PermissionRequired('articles:write') @SubscribeMessage('write') write(@CurrentUser() user: AuthPrincipal) {
        return user.username ?? user.id;
      }
    }
    providers.push(...guarded(transportGuard, [MatrixGateway]));
  }
  return { controllers, providers };
}

const codeOf = (err: any): string => err?.getResponse?.()?.code ?? err?.response?.code ?? String(err);

/** The client of the row's call site on a booted (and, for socket.io, listening) app. */
export function siteClient(site: CallSite, app: INestApplication, url: string | undefined): SiteClient {
  const http = () => request(app.getHttpServer());
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const httpOut = (res: request.Response): Out =>
    res.status < 300 ? { ok: true, body: res.body } : { ok: false, code: res.status === 404 ? 'not_found' : res.body.code };
  const httpClient: SiteClient = {
    login: async (username, password) => httpOut(await http().post('/auth/login').send({ username, password })),
    refresh: async (refreshToken) => httpOut(await http().post('/auth/refresh').send({ refreshToken })),
    refreshCurrent: async (a) => httpOut(await http().post('/auth/refresh-current').set(bearer(a))),
    logout: async (a) => httpOut(await http().post('/auth/logout').set(bearer(a))),
    logoutAll: async (a) => httpOut(await http().post('/auth/logout-all').set(bearer(a))),
    sessions: async (a) => httpOut(await http().get('/auth/sessions').set(bearer(a))),
    endSession: async (a, id) => httpOut(await http().delete(`/auth/sessions/${id}`).set(bearer(a))),
    revoke: async (a, token) => httpOut(await http().post('/auth/revoke').set(bearer(a)).send({ refreshToken: token })),
    read: async (a) => httpOut(a === undefined ? await http().get('/articles') : await http().get('/articles').set(bearer(a))),
    write: async (a) => httpOut(await http().post('/articles').set(bearer(a))),
  };
  if (site === 'controller' || site === 'service') return httpClient;

  if (site === 'job') {
    const job = app.get(MatrixJob);
    const run = async (fn: () => Promise<unknown>): Promise<Out> => {
      try {
        const body = await fn();
        return body === false ? { ok: false, code: 'not_found' } : { ok: true, body };
      } catch (err) {
        return { ok: false, code: codeOf(err) };
      }
    };
    /** A caller handed over by a request; its refusal when the request itself is refused. */
    const withCaller = async (a: string, fn: (id: string) => Promise<unknown>): Promise<Out> => {
      const held = await http().post('/auth/hold').set(bearer(a));
      return held.status === 200 ? run(() => fn(held.body.id)) : httpOut(held);
    };
    return {
      login: (u, p) => run(() => job.login(u, p)),
      refresh: (t) => run(() => job.refresh(t)),
      refreshCurrent: (a) => withCaller(a, (id) => job.refreshCurrent(id)),
      logout: (a) => withCaller(a, (id) => job.logout(id)),
      logoutAll: (a) => withCaller(a, (id) => job.logoutAll(id)),
      sessions: (a) => withCaller(a, (id) => job.sessions(id)),
      endSession: (a, s) => withCaller(a, (id) => job.endSession(id, s)),
      revoke: (a, t) => withCaller(a, () => job.revoke(t)),
      // A job has no route of its own to guard: the permission is checked where its caller came from (HTTP).
      read: httpClient.read,
      write: httpClient.write,
    };
  }

  if (site === 'graphql') {
    const gql = async (field: string, query: string, token?: string, variables?: Record<string, unknown>): Promise<Out> => {
      const req = http().post('/graphql').set('content-type', 'application/json');
      if (token !== undefined) req.set(bearer(token));
      const res = await req.send({ query, variables });
      const error = res.body.errors?.[0];
      if (error !== undefined) return { ok: false, code: error.extensions?.authCode ?? error.extensions?.code ?? error.message };
      const body = res.body.data[field];
      return body === false ? { ok: false, code: 'not_found' } : { ok: true, body };
    };
    return {
      login: (username, password) =>
        gql('login', 'mutation($u:String!,$p:String!){login(username:$u,password:$p){accessToken refreshToken}}', undefined, {
          u: username,
          p: password,
        }),
      refresh: (t) => gql('refresh', 'mutation($t:String!){refresh(refreshToken:$t){accessToken refreshToken}}', undefined, { t }),
      refreshCurrent: (a) => gql('refreshCurrent', 'mutation{refreshCurrent{accessToken refreshToken}}', a),
      logout: (a) => gql('logout', 'mutation{logout}', a),
      logoutAll: (a) => gql('logoutAll', 'mutation{logoutAll}', a),
      sessions: (a) => gql('sessions', '{sessions{id current}}', a),
      endSession: (a, id) => gql('endSession', 'mutation($id:String!){endSession(id:$id)}', a, { id }),
      revoke: (a, t) => gql('revoke', 'mutation($t:String!){revoke(token:$t)}', a, { t }),
      read: (a) => gql('read', '{read}', a),
      write: (a) => gql('write', 'mutation{write}', a),
    };
  }

  /** socket.io: one connection per call, authenticated by the caller's token in the handshake. */
  const emit = (event: string, data: unknown, token?: string, endsOwnSession = false) =>
    new Promise<Out>((resolve, reject) => {
      const socket = io(`${url}/matrix`, { transports: ['websocket'], reconnection: false, auth: token === undefined ? {} : { token } });
      const done = (out: Out) => {
        clearTimeout(timer);
        socket.disconnect();
        resolve(out);
      };
      const timer = setTimeout(() => {
        socket.disconnect();
        reject(new Error(`socket.io: no answer to ${event}`));
      }, 10_000);
      socket.once('connect_error', (err: any) => done({ ok: false, code: err?.data?.code ?? err.message }));
      socket.once('exception', (e: any) => done({ ok: false, code: e?.code ?? String(e?.message) }));
      // Ending the caller's session closes its live connections (README, transports): the close may beat the ack.
      if (endsOwnSession) socket.once('disconnect', (reason) => reason === 'io server disconnect' && done({ ok: true, body: 'disconnected' }));
      socket.once('connect', () =>
        socket.emit(event, data, (ack: unknown) => done(ack === false ? { ok: false, code: 'not_found' } : { ok: true, body: ack })),
      );
    });
  return {
    login: (username, password) => emit('login', { username, password }),
    refresh: (t) => emit('refresh', t),
    refreshCurrent: (a) => emit('refreshCurrent', null, a),
    logout: (a) => emit('logout', null, a, true),
    logoutAll: (a) => emit('logoutAll', null, a, true),
    sessions: (a) => emit('sessions', null, a),
    endSession: (a, id) => emit('endSession', id, a),
    revoke: (a, t) => emit('revoke', t, a),
    read: (a) => emit('read', null, a),
    write: (a) => emit('write', null, a),
  };
}
