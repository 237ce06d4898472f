/**
 * The core flows in the configurations users vary (and, on the stores an
 * instance shares with another, a revoked token refused on the other one). Not the full product of
 * the axes (2 × 5 × 3 × 4 × 2 = 240 apps) but a pairwise covering design
 * (./pairwise.ts): every value of every axis meets every value of every other
 * axis in at least one row, and every row runs every flow, so every value
 * meets every flow. The design's size and the wall time are printed.
 *
 * A new feature joins this matrix (a flow below, or a value of an axis)
 * instead of adding one more suite in a single configuration.
 *
 * Rows on PostgreSQL or MariaDB skip (one line) without AUTH_TEST_POSTGRES_URL /
 * AUTH_TEST_MYSQL_URL; .ci/run sets them. `store: 'cache'` rows run on Redis
 * with AUTH_TEST_REDIS_URL (two instances share it), else on the in-memory
 * CacheModule (the cross-instance flow then skips). Each row is its own app, booted and
 * closed in turn (passport keeps one `jwt` strategy per process: the row that
 * boots last owns it, so rows never overlap).
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
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
import { createKeyv } from '@keyv/redis';
import { CacheModule } from '@nestjs/cache-manager';
import { AuthGuard } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import {
  ApiKeyService,
  AuthService,
  CurrentUser,
  JwtAuthGuard,
  LoginDto,
  NestAuthGuard,
  PermissionRequired,
  Public,
  RefreshTokenDto,
  type AuthModuleForRootOptions,
  type AuthPrincipal,
} from '../../src/index.js';
import { bootApp, SECRET, type BootOptions } from '../support/app.js';
import { enabledDatabases, migratedDataSource, uniqueTestName, type DbTarget } from '../support/databases.js';
import { serviceUrl } from '../support/services.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { allPairKeys, pairsOf, pairwise } from './pairwise.js';

const AXES = {
  store: ['memory', 'sqlite', 'postgres', 'mariadb', 'cache'],
  guard: ['global', 'UseGuards(NestAuthGuard)', 'JwtAuthGuard', "AuthGuard('jwt')"],
  requestContext: ['auto', 'true', 'false'],
  adapter: ['express', 'fastify'],
  callSite: ['controller', 'service'],
} as const;
type Config = ReturnType<typeof pairwise<typeof AXES>>[number];

const rows = pairwise(AXES);
const fullProduct = Object.values(AXES).reduce((n, values) => n * values.length, 1);
const targets = new Map<string, DbTarget>(enabledDatabases({ quiet: true }).map((t) => [t.name === 'mysql' ? 'mariadb' : t.name, t]));
const runnable = (row: Config) => row.store === 'memory' || row.store === 'cache' || targets.has(row.store);
/** `store: 'cache'` rows: the CacheModule on Redis when AUTH_TEST_REDIS_URL is set (shared by two instances), else in memory. */
const redisUrl = serviceUrl('redis');
const skippedRows = rows.filter((r) => !runnable(r)).length;
const started = Date.now();
process.stdout.write(
  `[matrix] ${rows.length} rows cover all ${allPairKeys(AXES).size} pairs of ${Object.keys(AXES).length} axes (full product ${fullProduct})` +
    (skippedRows > 0 ? `; ${skippedRows} database rows skipped (set AUTH_TEST_POSTGRES_URL and AUTH_TEST_MYSQL_URL)` : '') +
    '\n',
);
afterAll(() => {
  process.stdout.write(
    `[matrix] ${rows.length - skippedRows} rows × ${FLOWS} flows (+1 on a shared store) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
});
const FLOWS = 9; // and, on a shared store, a revoked token refused on another instance

/** What a handler calls: AuthService itself (call site "controller"), or a service of the app in between. */
interface AuthCalls {
  login(username: string, password: string): Promise<unknown>;
  refresh(refreshToken: string): Promise<unknown>;
  refreshCurrentSessionToken(): Promise<unknown>;
  logout(): Promise<void>;
  revokeAllForUser(userId: string): Promise<void>;
  listSessions(): Promise<unknown[]>;
  endSession(id: string): Promise<boolean>;
  revokeToken(token: string): Promise<void>;
}

/** An app's own service between the controller and AuthService (requestContext 'auto' must follow the chain). */
@Injectable()
class AccountService implements AuthCalls {
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

const GUARDS: Record<Config['guard'], Type<CanActivate> | undefined> = {
  global: undefined,
  'UseGuards(NestAuthGuard)': NestAuthGuard,
  JwtAuthGuard,
  "AuthGuard('jwt')": AuthGuard('jwt') as Type<CanActivate>,
};

/** The row's controllers: guarded as the row says, calling AuthService directly or through AccountService. */
function controllersFor(row: Config): Type[] {
  const calls: Type = row.callSite === 'service' ? AccountService : AuthService;

  @Controller('auth')
  class MatrixAuthController {
    constructor(@Inject(calls) private readonly auth: AuthCalls) {}

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

  const guard = GUARDS[row.guard];
  if (guard !== undefined) for (const c of [MatrixAuthController, MatrixArticlesController]) UseGuards(guard)(c);
  return [MatrixAuthController, MatrixArticlesController];
}

const name = (row: Config) => `${row.adapter} | ${row.store} | requestContext ${row.requestContext} | ${row.guard} | ${row.callSite}`;

describe.each(rows.map((row) => [name(row), row] as const))('%s', (_name, row) => {
  const run = runnable(row) ? test : test.skip;
  const contextual = row.requestContext !== 'false';
  // The bearer-only guards take no API key (README, Guards).
  const apiKeys = row.guard === 'global' || row.guard === 'UseGuards(NestAuthGuard)';
  let app: INestApplication;
  let boot: () => Promise<INestApplication>;
  let users: MemoryUsers;
  const http = () => request(app.getHttpServer());
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const login = async (username: keyof typeof PASSWORDS = 'alice') => {
    const res = await http().post('/auth/login').send({ username, password: PASSWORDS[username] });
    expect([res.status, res.body.code]).toEqual([200, undefined]);
    return res.body as { accessToken: string; refreshToken: string };
  };
  const status = async (token: string) => {
    const res = await http().get('/articles').set(bearer(token));
    return res.status === 200 ? 200 : `${res.status} ${res.body.code}`;
  };
  /** A context-bound call without a request context refuses with 401 token_missing (README, `requestContext: false`). */
  const refusedWithoutContext = (res: request.Response) => expect([res.status, res.body.code]).toEqual([401, 'token_missing']);

  beforeAll(async () => {
    if (!runnable(row)) return;
    users = await MemoryUsers.create();
    const imports: NonNullable<BootOptions['imports']> = [];
    const options: AuthModuleForRootOptions = {
      jwt: { secret: SECRET },
      users,
      requestContext: row.requestContext === 'auto' ? 'auto' : row.requestContext === 'true',
      globalGuard: row.guard === 'global',
      apiKeys: { enabled: true },
      // Another instance learns a revocation by its next poll: short, so the cross-instance flow waits little.
      revocation: { syncIntervalMs: 100 },
    };
    if (row.store !== 'memory' && row.store !== 'cache') {
      const target = targets.get(row.store)!;
      await target.reset();
      await (await migratedDataSource(target)).destroy();
      imports.push(TypeOrmModule.forRoot(target.options()));
      options.store = 'typeorm';
    }
    // Each instance its own cache client, as two processes would have.
    const cacheImports = () => (row.store === 'cache' ? [CacheModule.register(redisUrl ? { stores: [createKeyv(redisUrl)] } : {})] : []);
    if (row.store === 'cache') options.store = { type: 'cache', keyPrefix: `${uniqueTestName('matrix')}:` };
    boot = () =>
      bootApp(options, {
        adapter: row.adapter,
        imports: [...imports, ...cacheImports()],
        controllers: controllersFor(row),
        providers: [AccountService],
      });
    app = await boot();
  });
  afterAll(async () => {
    await app?.close();
  });

  run('login', async () => {
    const pair = await login();
    expect(pair).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect((await http().post('/auth/login').send({ username: 'alice', password: 'wrong-password' })).body.code).toBe('invalid_credentials');
  });

  run('a protected route with a permission', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    expect(await status(alice.accessToken)).toBe(200);
    const denied = await http().post('/articles').set(bearer(alice.accessToken));
    expect([denied.status, denied.body.code]).toEqual([403, 'permission_denied']);
    expect((await http().post('/articles').set(bearer(bob.accessToken))).status).toBe(201);
    const anonymous = await http().get('/articles');
    expect([anonymous.status, anonymous.body.code]).toEqual([401, 'token_missing']);
  });

  run('refresh', async () => {
    const first = await login();
    const second = await http().post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(second.status).toBe(200);
    expect(await status(second.body.accessToken)).toBe(200);
    // The old refresh token is spent: its reuse is refused and ends the session.
    expect((await http().post('/auth/refresh').send({ refreshToken: first.refreshToken })).status).toBe(401);
    expect(await status(second.body.accessToken)).toBe('401 token_revoked');
  });

  run('refreshCurrentSessionToken', async () => {
    const pair = await login();
    const res = await http().post('/auth/refresh-current').set(bearer(pair.accessToken));
    if (!contextual) return refusedWithoutContext(res);
    expect(res.status).toBe(200);
    expect(await status(res.body.accessToken)).toBe(200);
    expect((await http().post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
  });

  run('logout', async () => {
    const pair = await login();
    const res = await http().post('/auth/logout').set(bearer(pair.accessToken));
    if (!contextual) {
      refusedWithoutContext(res);
      return expect(await status(pair.accessToken)).toBe(200);
    }
    expect(res.status).toBe(204);
    expect(await status(pair.accessToken)).toBe('401 token_revoked');
    expect((await http().post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
  });

  run('logout everywhere', async () => {
    const [a, b] = [await login('bob'), await login('bob')];
    expect((await http().post('/auth/logout-all').set(bearer(a.accessToken))).status).toBe(204);
    expect([await status(a.accessToken), await status(b.accessToken)]).toEqual(['401 token_revoked', '401 token_revoked']);
    expect(await status((await login('bob')).accessToken)).toBe(200);
  });

  run('list and end sessions', async () => {
    const [mine, other] = [await login('alice'), await login('alice')];
    const listed = await http().get('/auth/sessions').set(bearer(mine.accessToken));
    if (!contextual) return refusedWithoutContext(listed);
    expect(listed.status).toBe(200);
    const sessions = listed.body as Array<{ id: string; current: boolean }>;
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const current = sessions.find((s) => s.current)!.id;
    const others = sessions.filter((s) => !s.current);
    expect(others.length).toBeGreaterThanOrEqual(1);
    // End every other session of alice (earlier flows left some): the second login's token dies, this one lives.
    for (const s of others) expect((await http().delete(`/auth/sessions/${s.id}`).set(bearer(mine.accessToken))).status).toBe(204);
    expect(await status(other.accessToken)).toBe('401 token_revoked');
    expect(await status(mine.accessToken)).toBe(200);
    expect((await http().delete(`/auth/sessions/${current}-nope`).set(bearer(mine.accessToken))).status).toBe(404);
  });

  run('revoke a token', async () => {
    const caller = await login('bob');
    const victim = await login('alice');
    expect((await http().post('/auth/revoke').set(bearer(caller.accessToken)).send({ refreshToken: victim.accessToken })).status).toBe(204);
    expect(await status(victim.accessToken)).toBe('401 token_revoked');
    expect(await status(caller.accessToken)).toBe(200);
  });

  run(apiKeys ? 'an API key call' : 'an API key call: refused by a bearer-only guard', async () => {
    const { key } = await app.get(ApiKeyService).create({ name: 'matrix', permissions: ['articles:read'] });
    const res = await http().get('/articles').set('x-api-key', key);
    if (apiKeys) {
      expect(res.status).toBe(200);
      expect((await http().post('/articles').set('x-api-key', key)).status).toBe(403);
    } else expect(res.status).toBe(401);
  });

  // Last: the second instance boots after every other flow (with AuthGuard('jwt'), passport's one 'jwt' strategy is then its own).
  if (row.store !== 'memory' && (row.store !== 'cache' || redisUrl))
    run('a revoked token refused on another instance (shared store)', async () => {
      const token = (await login('alice')).accessToken;
      const other = await boot();
      try {
        const onOther = async () => {
          const res = await request(other.getHttpServer()).get('/articles').set(bearer(token));
          return res.status === 200 ? 200 : `${res.status} ${res.body.code}`;
        };
        expect(await onOther()).toBe(200);
        await app.get(AuthService).revokeToken(token);
        // Bounded wait for the other instance's poll; never a timing assertion.
        const until = Date.now() + 10_000;
        while ((await onOther()) === 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        expect(await onOther()).toBe('401 token_revoked');
      } finally {
        await other.close();
      }
    });
});

describe('the covering design', () => {
  test('covers every pair of values of every two axes', () => {
    const covered = new Set(rows.flatMap((row) => pairsOf(AXES, row)));
    expect([...allPairKeys(AXES)].filter((p) => !covered.has(p))).toEqual([]);
    // The lower bound is the product of the two largest axes (5 × 4).
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows.length).toBeLessThan(fullProduct / 4);
  });
});
