import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import {
  Catch,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
  type MiddlewareConsumer,
  type NestMiddleware,
  type NestModule,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthService, CurrentUser, NestAuthGuard, Public, type AuthPrincipal } from '../../src/index.js';
import request from 'supertest';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { keepAliveClient } from '../support/keep-alive.js';
import { sleep } from '../support/time.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/** What a context-bound method answered where it was called. */
async function outcome(call: () => Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; status: number; code: unknown }> {
  try {
    return { ok: true, value: await call() };
  } catch (err) {
    const response = err instanceof UnauthorizedException ? (err.getResponse() as { code?: unknown }) : {};
    return { ok: false, status: err instanceof UnauthorizedException ? 401 : 500, code: response.code };
  }
}

/** What the middleware saw, on the raw request (Express's request is the raw one; Fastify's wraps it). */
function outcomeOf(req: { outcome?: unknown; raw?: { outcome?: unknown } }): unknown {
  return req.raw?.outcome ?? req.outcome;
}

/** Middleware runs before any guard: it must never see a principal, whoever used the socket before. */
@Injectable()
class ContextMiddleware implements NestMiddleware {
  constructor(private readonly auth: AuthService) {}
  async use(req: IncomingMessage & { outcome?: unknown }, _res: ServerResponse, next: () => void) {
    const url = req.url ?? '';
    req.outcome = await outcome(() => (url.includes('logout') ? this.auth.logout() : this.auth.listSessions()));
    next();
  }
}

const late: unknown[] = [];

@Catch()
class SessionsFilter implements ExceptionFilter {
  constructor(private readonly auth: AuthService) {}
  async catch(_err: unknown, host: ArgumentsHost) {
    const result = await outcome(() => this.auth.listSessions());
    const res = host.switchToHttp().getResponse();
    if (typeof res.code === 'function') res.code(200).send(result);
    else res.status(200).json(result);
  }
}

@Controller('ctx')
class ContextController {
  constructor(private readonly auth: AuthService) {}

  @Get('sessions')
  async sessions(@CurrentUser() user: AuthPrincipal) {
    // Yield a few times so concurrent requests interleave.
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, Math.random() * 5));
    return { user: user.username, sessions: (await this.auth.listSessions()).map((s) => s.id) };
  }

  @Public()
  @Get('guest-sessions')
  guest() {
    return outcome(() => this.auth.listSessions());
  }

  @Get('after-response')
  afterResponse() {
    setTimeout(() => void outcome(() => this.auth.listSessions()).then((r) => late.push(r)), 30);
    return { ok: true };
  }

  @Get('throws')
  @UseFilters(SessionsFilter)
  throws() {
    throw new Error('boom');
  }
}

/** The routes behind the middleware: public, they answer what the middleware saw. */
@Controller('mw')
@Public()
class MiddlewareRoutes {
  @Get('sessions')
  sessions(@Req() req: object) {
    return outcomeOf(req);
  }
  @Post('logout')
  @HttpCode(200)
  logout(@Req() req: object) {
    return outcomeOf(req);
  }
}

@Module({ controllers: [ContextController, AuthController, MiddlewareRoutes], providers: [ContextMiddleware, SessionsFilter] })
class ContextModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(ContextMiddleware).forRoutes(MiddlewareRoutes);
  }
}

describe.each(ADAPTERS)('the request context is bound to one handler execution, %s', (adapter) => {
  let app: INestApplication;
  let auth: AuthService;

  beforeAll(async () => {
    app = await bootApp({ jwt: { secret: SECRET }, users: await MemoryUsers.create() }, { adapter, imports: [ContextModule] });
    auth = app.get(AuthService);
  });
  afterAll(() => app.close());

  test('a middleware after an authenticated request on the same keep-alive socket sees no principal', async () => {
    const client = await keepAliveClient(app);
    try {
      const pair = await auth.login('alice', PASSWORDS.alice);
      const first = await client.send('GET', '/ctx/sessions', { authorization: `Bearer ${pair.accessToken}` });
      expect(first.status).toBe(200);
      expect(first.body.sessions.length).toBeGreaterThan(0);
      const second = await client.send('GET', '/mw/sessions');
      expect(second.reusedSocket).toBe(true);
      expect(second.body).toEqual({ ok: false, status: 401, code: 'token_missing' });
    } finally {
      client.close();
    }
  });

  test('logout() from a middleware after an authenticated request on the socket ends nothing', async () => {
    const client = await keepAliveClient(app);
    try {
      const pair = await auth.login('alice', PASSWORDS.alice);
      const bearer = { authorization: `Bearer ${pair.accessToken}` };
      expect((await client.send('GET', '/ctx/sessions', bearer)).status).toBe(200);
      const mw = await client.send('POST', '/mw/logout');
      expect(mw.reusedSocket).toBe(true);
      expect(mw.body).toEqual({ ok: false, status: 401, code: 'token_missing' });
      expect((await client.send('GET', '/ctx/sessions', bearer)).status).toBe(200);
    } finally {
      client.close();
    }
  });

  test('a public route called without credentials after an authenticated request on the socket is a guest', async () => {
    const client = await keepAliveClient(app);
    try {
      const pair = await auth.login('bob', PASSWORDS.bob);
      expect((await client.send('GET', '/ctx/sessions', { authorization: `Bearer ${pair.accessToken}` })).status).toBe(200);
      const guest = await client.send('GET', '/ctx/guest-sessions');
      expect(guest.reusedSocket).toBe(true);
      expect(guest.body).toEqual({ ok: false, status: 401, code: 'token_missing' });
    } finally {
      client.close();
    }
  });

  test('an exception filter does not act on the request', async () => {
    const pair = await auth.login('alice', PASSWORDS.alice);
    const client = await keepAliveClient(app);
    try {
      const res = await client.send('GET', '/ctx/throws', { authorization: `Bearer ${pair.accessToken}` });
      expect(res.body).toEqual({ ok: false, status: 401, code: 'token_missing' });
    } finally {
      client.close();
    }
  });

  test('work the handler leaves running after the response cannot act on the request', async () => {
    late.length = 0;
    const pair = await auth.login('alice', PASSWORDS.alice);
    const client = await keepAliveClient(app);
    try {
      expect((await client.send('GET', '/ctx/after-response', { authorization: `Bearer ${pair.accessToken}` })).status).toBe(200);
      for (let i = 0; i < 100 && late.length === 0; i++) await sleep(10);
      expect(late).toEqual([{ ok: false, status: 401, code: 'token_missing' }]);
    } finally {
      client.close();
    }
  });

  test('interleaved concurrent users each see only their own sessions', async () => {
    const alice = await auth.login('alice', PASSWORDS.alice);
    const bob = await auth.login('bob', PASSWORDS.bob);
    const clients = await Promise.all(Array.from({ length: 4 }, () => keepAliveClient(app)));
    try {
      const calls = Array.from({ length: 24 }, (_, i) => {
        const who = i % 2 === 0 ? 'alice' : 'bob';
        const token = who === 'alice' ? alice.accessToken : bob.accessToken;
        return clients[i % 4].send('GET', '/ctx/sessions', { authorization: `Bearer ${token}` }).then((res) => ({ who, res }));
      });
      const results = await Promise.all(calls);
      const own = { alice: new Set<string>(), bob: new Set<string>() };
      for (const { who, res } of results) {
        expect(res.status).toBe(200);
        expect(res.body.user).toBe(who);
        for (const id of res.body.sessions) own[who as 'alice' | 'bob'].add(id);
      }
      for (const id of own.alice) expect(own.bob.has(id)).toBe(false);
    } finally {
      clients.forEach((c) => c.close());
    }
  });

  test('called outside any request, the context-bound methods throw the 401 token_missing', async () => {
    for (const call of [() => auth.logout(), () => auth.listSessions(), () => auth.endSession('x'), () => auth.refreshCurrentSessionToken()]) {
      await expect(call()).rejects.toBeInstanceOf(UnauthorizedException);
      await expect(call()).rejects.toMatchObject({ code: 'token_missing' });
    }
  });
});

@Controller('open')
class UnguardedController {
  constructor(private readonly auth: AuthService) {}
  @Get('sessions')
  sessions() {
    return outcome(() => this.auth.listSessions());
  }
}

@Controller('guarded')
@UseGuards(NestAuthGuard)
class GuardedController {
  constructor(private readonly auth: AuthService) {}
  @Get('sessions')
  sessions() {
    return this.auth.listSessions();
  }
  @Post('logout')
  @HttpCode(204)
  logout() {
    return this.auth.logout();
  }
}

describe.each(ADAPTERS)('globalGuard: false, %s', (adapter) => {
  let app: INestApplication;
  let auth: AuthService;
  beforeAll(async () => {
    app = await bootApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), globalGuard: false },
      { adapter, controllers: [UnguardedController, GuardedController] },
    );
    auth = app.get(AuthService);
  });
  afterAll(() => app.close());
  afterEach(() => undefined);

  test('a route no module guard ran on sees no principal, even after a guarded request on the same socket', async () => {
    const client = await keepAliveClient(app);
    try {
      const pair = await auth.login('alice', PASSWORDS.alice);
      const bearer = { authorization: `Bearer ${pair.accessToken}` };
      expect((await client.send('GET', '/guarded/sessions', bearer)).status).toBe(200);
      const open = await client.send('GET', '/open/sessions');
      expect(open.reusedSocket).toBe(true);
      expect(open.body).toEqual({ ok: false, status: 401, code: 'token_missing' });
      // Even with the token: no module guard authenticated this request.
      expect((await client.send('GET', '/open/sessions', bearer)).body).toEqual({ ok: false, status: 401, code: 'token_missing' });
      expect((await client.send('POST', '/guarded/logout', bearer)).status).toBe(204);
    } finally {
      client.close();
    }
  });
});

describe('requestContext: false', () => {
  test('no context: the context-bound methods refuse with a message that says why; login and the guard work', async () => {
    const app = await bootApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), requestContext: false },
      { controllers: [AuthController] },
    );
    try {
      const http = request(app.getHttpServer());
      const login = await http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
      expect(login.status).toBe(200);
      const sessions = await http.get('/auth/sessions').set('Authorization', `Bearer ${login.body.accessToken}`);
      expect([sessions.status, sessions.body.code]).toEqual([401, 'token_missing']);
      expect(sessions.body.message).toMatch(/listSessions\(\) acts on the request whose handler is running/);
      expect((await http.get('/auth/sessions')).status).toBe(401);
    } finally {
      await app.close();
    }
  });
});
