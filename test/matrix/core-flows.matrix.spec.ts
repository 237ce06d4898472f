/**
 * The core flows in the configurations users vary (and, on the stores an
 * instance shares with another, a revoked token refused on the other one). Not the full product of
 * the axes (2 × 6 × 3 × 4 × 5 = 720 apps) but a pairwise covering design
 * (./pairwise.ts): every value of every axis meets every value of every other
 * axis in at least one row, and every row runs every flow, so every value
 * meets every flow. The design's size and the wall time are printed.
 *
 * A new feature joins this matrix (a flow below, or a value of an axis: one
 * entry in STORES, in ./sites.ts for a call site, or in GUARDS)
 * instead of adding one more suite in a single configuration.
 *
 * Rows on PostgreSQL, MariaDB or the Redis cache skip (one line) without AUTH_TEST_POSTGRES_URL /
 * AUTH_TEST_MYSQL_URL / AUTH_TEST_REDIS_URL; .ci/run sets them. Each row is its own app, booted and
 * closed in turn (passport keeps one `jwt` strategy per process: the row that
 * boots last owns it, so rows never overlap).
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ValidationPipe, type CanActivate, type INestApplication, type Type } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { CacheModule } from '@nestjs/cache-manager';
import { createKeyv } from '@keyv/redis';
import { AuthGuard } from '@nestjs/passport';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ApiKeyService, AuthModule, AuthService, JwtAuthGuard, NestAuthGuard, type AuthModuleForRootOptions } from '../../src/index.js';
import { AuthTransportsModule } from '../../src/transports/index.js';
import { SECRET } from '../support/app.js';
import { enabledDatabases, uniqueTestName, type DbTarget } from '../support/databases.js';
import { serviceUrl } from '../support/services.js';
import { MemoryUsers, PASSWORDS, withUsersHasher } from '../support/users.js';
import { allPairKeys, pairsOf, pairwise } from './pairwise.js';
import { CALL_SITES, siteClasses, siteClient, type Out, type SiteClient } from './sites.js';

/**
 * The store and database layout axis, one entry per value: the database target it needs (none: memory) and the
 * TypeORM layout on it, or the cache. A PostgreSQL `schema` is created per row, in the row's own database (dropped
 * with it). `cache`: `store: 'cache'` on the app's CacheModule over Redis (@keyv/redis), a key prefix per row;
 * revocations, ended sessions and cut-offs are shared through Redis (read per request: `strict`), sessions and API
 * keys stay in the instance's memory.
 */
type Layout = { db: DbTarget['name']; schema?: boolean; entityPrefix?: string } | { cache: 'redis' };
const STORES = {
  memory: undefined,
  sqlite: { db: 'sqlite' },
  postgres: { db: 'postgres' },
  'postgres schema+prefix': { db: 'postgres', schema: true, entityPrefix: 'mx_' },
  mariadb: { db: 'mysql' },
  cache: { cache: 'redis' },
} as const satisfies Record<string, Layout | undefined>;

const AXES = {
  store: Object.keys(STORES) as Array<keyof typeof STORES>,
  guard: ['global', 'UseGuards(NestAuthGuard)', 'JwtAuthGuard', "AuthGuard('jwt')"],
  callSite: CALL_SITES,
  requestContext: ['auto', 'true', 'false'],
  adapter: ['express', 'fastify'],
} as const;
type Config = ReturnType<typeof pairwise<typeof AXES>>[number];

const rows = pairwise(AXES);
const fullProduct = Object.values(AXES).reduce((n, values) => n * values.length, 1);
const targets = new Map<string, DbTarget>(enabledDatabases({ quiet: true }).map((t) => [t.name, t]));
const redisUrl = serviceUrl('redis');
const layoutOf = (row: Config) => STORES[row.store] as Layout | undefined;
const runnable = (row: Config) => {
  const layout = layoutOf(row);
  if (layout === undefined) return true;
  return 'cache' in layout ? redisUrl !== undefined : targets.has(layout.db);
};
const skippedRows = rows.filter((r) => !runnable(r)).length;
const started = Date.now();
process.stdout.write(
  `[matrix] ${rows.length} rows cover all ${allPairKeys(AXES).size} pairs of ${Object.keys(AXES).length} axes (full product ${fullProduct})` +
    (skippedRows > 0
      ? `; ${skippedRows} database and cache rows skipped (set AUTH_TEST_POSTGRES_URL, AUTH_TEST_MYSQL_URL and AUTH_TEST_REDIS_URL)`
      : '') +
    '\n',
);
afterAll(() => {
  process.stdout.write(
    `[matrix] ${rows.length - skippedRows} rows × ${FLOWS} flows (+1 on a shared store) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
});
const FLOWS = 9; // and, on a shared store, a revoked token refused on another instance

const GUARDS: Record<Config['guard'], Type<CanActivate> | undefined> = {
  global: undefined,
  'UseGuards(NestAuthGuard)': NestAuthGuard,
  JwtAuthGuard,
  "AuthGuard('jwt')": AuthGuard('jwt') as Type<CanActivate>,
};
/**
 * The guard on a resolver or gateway. Passport's `AuthGuard('jwt')` reads an HTTP request only (README, Guards):
 * in its rows the HTTP controllers keep it and the resolver or gateway gets `JwtAuthGuard`, its bearer-only
 * counterpart that knows every transport.
 */
const transportGuard = (row: Config) => (row.guard === "AuthGuard('jwt')" ? JwtAuthGuard : GUARDS[row.guard]);

const name = (row: Config) => `${row.adapter} | ${row.store} | requestContext ${row.requestContext} | ${row.guard} | ${row.callSite}`;

/** Boots the row's app (listening on an ephemeral port when its call site needs a server: socket.io). */
async function bootRow(row: Config, options: AuthModuleForRootOptions, imports: unknown[]): Promise<{ app: INestApplication; url?: string }> {
  const { controllers, providers } = siteClasses(row.callSite, GUARDS[row.guard], transportGuard(row));
  const extra: unknown[] = [];
  if (row.callSite === 'graphql') extra.push(GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }));
  const moduleRef = await Test.createTestingModule({
    imports: [...(imports as never[]), ...(extra as never[]), AuthModule.forRoot(withUsersHasher(options)), AuthTransportsModule.forRoot()],
    controllers,
    providers,
  }).compile();
  const app =
    row.adapter === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter()) : moduleRef.createNestApplication();
  app.useLogger(false);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  if (row.callSite !== 'socket.io') {
    await app.init();
    if (row.adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    return { app };
  }
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` };
}

describe.each(rows.map((row) => [name(row), row] as const))('%s', (_name, row) => {
  // Skipped only for a row on PostgreSQL, MariaDB or Redis whose URL is not set (.ci/run sets them all); the line above says so.
  const run = runnable(row) ? test : test.skip;
  // A job passes its caller explicitly: it needs no request context (README, Streams, gateways and event code).
  const contextual = row.requestContext !== 'false' || row.callSite === 'job';
  // The bearer-only guards take no API key (README, Guards).
  const apiKeys = row.guard === 'global' || row.guard === 'UseGuards(NestAuthGuard)';
  let app: INestApplication;
  let site: SiteClient;
  let boot: () => ReturnType<typeof bootRow>;
  let users: MemoryUsers;
  const keyvs: Array<ReturnType<typeof createKeyv>> = [];
  const http = () => request(app.getHttpServer());
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const code = (out: Out) => (out.ok ? 'ok' : out.code);
  const login = async (username: keyof typeof PASSWORDS = 'alice') => {
    const out = await site.login(username, PASSWORDS[username]);
    expect(code(out)).toBe('ok');
    return (out as { body: { accessToken: string; refreshToken: string } }).body;
  };
  /** Reads until it gives `expected` or 5 s have passed, and returns the last reading (a bound, not a speed check). */
  const settled = async <T>(read: () => Promise<T>, expected: T): Promise<T> => {
    const deadline = Date.now() + 5000;
    let got = await read();
    while (JSON.stringify(got) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      got = await read();
    }
    return got;
  };
  /** A token checked where every row can: the HTTP route behind `articles:read`. */
  const status = async (token: string) => {
    const res = await http().get('/articles').set(bearer(token));
    return res.status === 200 ? 200 : `${res.status} ${res.body.code}`;
  };
  /**
   * A context-bound call without a request context refuses with token_missing (README, `requestContext: false`),
   * and the code reaches every call site, a resolver's and a gateway's too (#21: refusals keep their code).
   */
  const refusedWithoutContext = (out: Out) => expect(code(out)).toBe('token_missing');

  beforeAll(async () => {
    if (!runnable(row)) return;
    users = await MemoryUsers.create();
    // Built per boot: an instance's CacheModule disconnects its Redis client when that instance closes.
    let imports: () => unknown[] = () => [];
    const options: AuthModuleForRootOptions = {
      jwt: { secret: SECRET },
      users,
      requestContext: row.requestContext === 'auto' ? 'auto' : row.requestContext === 'true',
      globalGuard: row.guard === 'global',
      apiKeys: { enabled: true },
      // Another instance learns a revocation by its next poll: short, so the cross-instance flow waits little.
      revocation: { syncIntervalMs: 100 },
    };
    const layout = layoutOf(row);
    if (layout !== undefined && 'cache' in layout) {
      // Every instance of the row on one Redis under the row's own prefix: they share revocations, no other row's.
      imports = () => {
        const keyv = createKeyv(redisUrl!);
        keyvs.push(keyv);
        return [CacheModule.register({ stores: [keyv] })];
      };
      options.store = { type: 'cache', keyPrefix: `${uniqueTestName('mx')}:` };
    } else if (layout !== undefined) {
      const target = targets.get(layout.db)!;
      await target.reset();
      let dataSource: DataSourceOptions = target.options();
      if (layout.schema) {
        const schema = uniqueTestName('auth_mx');
        const admin = await new DataSource(dataSource).initialize();
        await admin.query(`CREATE SCHEMA "${schema}"`);
        await admin.destroy();
        dataSource = { ...dataSource, schema } as DataSourceOptions;
      }
      if (layout.entityPrefix) dataSource = { ...dataSource, entityPrefix: layout.entityPrefix };
      const migrated = await new DataSource(dataSource).initialize();
      await migrated.runMigrations();
      await migrated.destroy();
      imports = () => [TypeOrmModule.forRoot(dataSource)];
      options.store = 'typeorm';
    }
    boot = () => bootRow(row, options, imports());
    const booted = await boot();
    app = booted.app;
    site = siteClient(row.callSite, app, booted.url);
  });
  afterAll(async () => {
    await app?.close();
    // Closed already if the app's CacheModule did it; never left to keep the worker alive.
    for (const keyv of keyvs.splice(0)) await keyv.disconnect().catch(() => undefined);
  });

  run('login', async () => {
    const pair = await login();
    expect(pair).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(code(await site.login('alice', 'wrong-password'))).toBe('invalid_credentials');
  });

  run('a protected route with a permission', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    expect(code(await site.read(alice.accessToken))).toBe('ok');
    expect(code(await site.write(alice.accessToken))).toBe('permission_denied');
    expect(code(await site.write(bob.accessToken))).toBe('ok');
    const anonymous = await http().get('/articles');
    expect([anonymous.status, anonymous.body.code]).toEqual([401, 'token_missing']);
  });

  run('refresh', async () => {
    const first = await login();
    const second = await site.refresh(first.refreshToken);
    expect(code(second)).toBe('ok');
    const next = (second as { body: { accessToken: string } }).body;
    expect(await status(next.accessToken)).toBe(200);
    // The old refresh token is spent: its reuse is refused and ends the session.
    expect(code(await site.refresh(first.refreshToken))).not.toBe('ok');
    expect(await status(next.accessToken)).toBe('401 token_revoked');
  });

  run('refreshCurrentSessionToken', async () => {
    const pair = await login();
    const out = await site.refreshCurrent(pair.accessToken);
    if (!contextual) return refusedWithoutContext(out);
    expect(code(out)).toBe('ok');
    expect(await status((out as { body: { accessToken: string } }).body.accessToken)).toBe(200);
    expect((await http().post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
  });

  run('logout', async () => {
    const pair = await login();
    const out = await site.logout(pair.accessToken);
    if (!contextual) {
      refusedWithoutContext(out);
      return expect(await status(pair.accessToken)).toBe(200);
    }
    expect(code(out)).toBe('ok');
    expect(await status(pair.accessToken)).toBe('401 token_revoked');
    expect((await http().post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
  });

  run('logout everywhere', async () => {
    const [a, b] = [await login('bob'), await login('bob')];
    expect(code(await site.logoutAll(a.accessToken))).toBe('ok');
    // Over socket.io the server's close of the caller's ended session can beat the ack, while the call still ends the
    // user's other sessions on the server: its effect is awaited (bounded), not assumed at the close.
    const both = () => Promise.all([status(a.accessToken), status(b.accessToken)]);
    expect(await settled(both, ['401 token_revoked', '401 token_revoked'])).toEqual(['401 token_revoked', '401 token_revoked']);
    expect(await status((await login('bob')).accessToken)).toBe(200);
  });

  run('list and end sessions', async () => {
    const [mine, other] = [await login('alice'), await login('alice')];
    const listed = await site.sessions(mine.accessToken);
    if (!contextual) return refusedWithoutContext(listed);
    expect(code(listed)).toBe('ok');
    const sessions = (listed as { body: Array<{ id: string; current: boolean }> }).body;
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    const current = sessions.find((s) => s.current)!.id;
    const others = sessions.filter((s) => !s.current);
    expect(others.length).toBeGreaterThanOrEqual(1);
    // End every other session of alice (earlier flows left some): the second login's token dies, this one lives.
    for (const s of others) expect(code(await site.endSession(mine.accessToken, s.id))).toBe('ok');
    expect(await status(other.accessToken)).toBe('401 token_revoked');
    expect(await status(mine.accessToken)).toBe(200);
    expect(code(await site.endSession(mine.accessToken, `${current}-nope`))).toBe('not_found');
  });

  run('revoke a token', async () => {
    const caller = await login('bob');
    const victim = await login('alice');
    expect(code(await site.revoke(caller.accessToken, victim.accessToken))).toBe('ok');
    expect(await status(victim.accessToken)).toBe('401 token_revoked');
    expect(await status(caller.accessToken)).toBe(200);
  });

  // On the HTTP route for every call site: the key is a credential of the guard, which is the row's HTTP guard.
  run(apiKeys ? 'an API key call' : 'an API key call: refused by a bearer-only guard', async () => {
    const { key } = await app.get(ApiKeyService).create({ name: 'matrix', permissions: ['articles:read'] });
    const res = await http().get('/articles').set('x-api-key', key);
    if (apiKeys) {
      expect(res.status).toBe(200);
      expect((await http().post('/articles').set('x-api-key', key)).status).toBe(403);
    } else expect(res.status).toBe(401);
  });

  // Last: the second instance boots after every other flow (with AuthGuard('jwt'), passport's one 'jwt' strategy is then its own).
  if (row.store !== 'memory')
    run('a revoked token refused on another instance (shared store)', async () => {
      const token = (await login('alice')).accessToken;
      const { app: other } = await boot();
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
    // The lower bound is the product of the two largest axes (6 stores × 5 call sites).
    const [largest, second] = Object.values(AXES)
      .map((values) => values.length)
      .sort((a, b) => b - a);
    expect(rows.length).toBeGreaterThanOrEqual(largest! * second!);
    expect(rows.length).toBeLessThan(fullProduct / 4);
  });
});
