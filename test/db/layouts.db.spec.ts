import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, type DataSourceOptions, type EntitySchema } from 'typeorm';
import { ApiKeyService, AuthService, authEntities, authMigrations, type AuthModuleOptions } from '../../src/index.js';
import { rawTablePath } from '../../src/persistence/table-path.js';
import { RevocationSync } from '../../src/revocation/revocation-sync.js';
import { ThrottleCounterEntity } from '../../src/throttle/throttle.entity.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, uniqueTestName, type DbTarget } from '../support/databases.js';
import { bearer, login, type TokenPair } from '../support/http.js';
import { eventually, sleep } from '../support/time.js';
import { MemoryUsers } from '../support/users.js';

/**
 * The database layouts apps use beside the default one: a PostgreSQL `schema` (one database shared between
 * services), an `entityPrefix`, both, and a prefix on MariaDB and SQLite. The module's migrations must put every
 * table where the entities say, and every store (sessions, revocations and their change log, cut-offs, API keys,
 * throttle counters) must work there, across two instances.
 */
interface Layout {
  name: string;
  target: DbTarget;
  schema?: boolean;
  entityPrefix?: string;
}

const TABLES = [
  'auth_sessions',
  'auth_session_rotations',
  'auth_revoked_tokens',
  'auth_user_cutoffs',
  'auth_api_keys',
  'auth_revocation_log',
  'auth_throttle_counters',
];
const SYNC_MS = 50;
/** How long a test waits for another instance's poll: many intervals, for a loaded machine; a bound, not a speed check. */
const WAIT_MS = 5000;

const layouts: Layout[] = enabledDatabases().flatMap((target): Layout[] => {
  if (target.name === 'postgres') {
    return [
      { name: 'postgres, a schema', target, schema: true },
      { name: 'postgres, an entityPrefix', target, entityPrefix: 'app_' },
      { name: 'postgres, a schema and an entityPrefix', target, schema: true, entityPrefix: 'svc1_' },
    ];
  }
  return [{ name: `${target.name}, an entityPrefix`, target, entityPrefix: 'app_' }];
});

describe.each(layouts)('every store on $name', (layout) => {
  let users: MemoryUsers;
  let options: DataSourceOptions;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    users = await MemoryUsers.create();
    await layout.target.reset();
    const base = layout.target.options();
    let schema: string | undefined;
    if (layout.schema) {
      // A schema of this run's own, in the suite's own database (dropped with it).
      schema = uniqueTestName('auth_schema');
      const admin = await new DataSource(base).initialize();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.destroy();
    }
    options = { ...base, ...(schema ? { schema } : {}), ...(layout.entityPrefix ? { entityPrefix: layout.entityPrefix } : {}) } as DataSourceOptions;
  });
  afterAll(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function boot(extra: Partial<AuthModuleOptions> = {}): Promise<INestApplication> {
    const app = await bootApp(
      {
        jwt: { secret: SECRET },
        users,
        store: 'typeorm',
        apiKeys: { enabled: true },
        revocation: { syncIntervalMs: SYNC_MS },
        loginThrottle: { perAccountAndIp: { limit: 2, windowSeconds: 60 } },
        ...extra,
      },
      { controllers: ALL_CONTROLLERS, imports: [TypeOrmModule.forRoot(options)] },
    );
    apps.push(app);
    return app;
  }

  test('authMigrations put every table where the entities are, and nothing elsewhere', async () => {
    const ds = await new DataSource(options).initialize();
    try {
      expect(await ds.runMigrations()).toHaveLength(authMigrations[layout.target.name].length);
      // Exactly the entities' schema: nothing left for TypeORM to create or change.
      expect((await ds.driver.createSchemaBuilder().log()).upQueries.map((q) => q.query)).toEqual([]);
      const runner = ds.createQueryRunner();
      try {
        for (const table of TABLES) {
          const path = rawTablePath(ds, table);
          expect(path).toBe(
            [(options as { schema?: string }).schema, `${layout.entityPrefix ?? ''}${table}`].filter((p) => p !== undefined).join('.'),
          );
          expect(await runner.hasTable(path)).toBe(true);
        }
        // No table of the module under its bare name in the default place.
        const bare = (table: string) => (layout.target.name === 'postgres' ? `public.${table}` : table);
        for (const table of TABLES) expect(await runner.hasTable(bare(table))).toBe(false);
      } finally {
        await runner.release();
      }
      // The entities must see the tables the migrations made (their metadata and rawTablePath agree).
      for (const entity of authEntities) expect(await ds.getRepository(entity as EntitySchema<object>).count()).toBe(0);
      // Undo and redo: the down migrations find the tables too.
      for (let i = 0; i < authMigrations[layout.target.name].length; i++) await ds.undoLastMigration();
      const runner2 = ds.createQueryRunner();
      for (const table of TABLES) expect(await runner2.hasTable(rawTablePath(ds, table))).toBe(false);
      await runner2.release();
      await ds.runMigrations();
    } finally {
      await ds.destroy();
    }
  });

  test('login, throttle counting, refresh, reuse, logout, logout everywhere, revocation, API keys and purge, over two instances', async () => {
    const a = await boot();
    const b = await boot();
    const http = (app: INestApplication) => request(app.getHttpServer());
    /** Waits, bounded, until `app` refuses `token`; the assertion that follows says what it must be (no timing claim). */
    const refusedOn = (app: INestApplication, token: string, what: string) =>
      eventually(async () => (await http(app).get('/private').set(bearer(token))).status === 401, what, WAIT_MS).catch(() => undefined);
    const wrong = (app: INestApplication) => http(app).post('/auth/login').send({ username: 'alice', password: 'wrong-password' });

    // Throttle counters: failures on both instances count together; the third from this address is refused.
    expect((await wrong(a)).status).toBe(401);
    expect((await wrong(b)).status).toBe(401);
    const refused = await wrong(a);
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('too_many_attempts');
    const counters = await new DataSource(options).initialize();
    try {
      expect(await counters.getRepository(ThrottleCounterEntity).count()).toBeGreaterThan(0);
    } finally {
      await counters.destroy();
    }

    // Sessions: login (bob: alice's account-and-address budget is used up), refresh on the other instance.
    const first = await login(a, 'bob');
    const rotated = await http(b).post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(rotated.status).toBe(200);
    const pair = rotated.body as TokenPair;
    expect((await http(a).get('/private').set(bearer(pair.accessToken))).status).toBe(200);
    // Reuse of the rotated-out token ends the session, on every instance.
    const reuse = await http(a).post('/auth/refresh').send({ refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('token_revoked');
    expect((await http(b).post('/auth/refresh').send({ refreshToken: pair.refreshToken })).body.code).toBe('token_revoked');
    // b learns that a ended the session from the change log on its next poll (syncIntervalMs): wait for it, bounded.
    await refusedOn(b, pair.accessToken, 'the other instance to refuse the ended session');
    expect((await http(b).get('/private').set(bearer(pair.accessToken))).status).toBe(401);

    // Logout: the access token is refused on the other instance (revoked jti and ended session, via the change log).
    const second = await login(b, 'bob');
    expect((await http(b).post('/auth/logout').set(bearer(second.accessToken))).status).toBe(204);
    await refusedOn(a, second.accessToken, 'the other instance to refuse the logged-out token');
    expect((await http(a).get('/private').set(bearer(second.accessToken))).status).toBe(401);

    // Logout everywhere: a cut-off.
    const third = await login(a, 'root');
    const fourth = await login(b, 'root');
    expect((await http(a).post('/auth/logout-all').set(bearer(third.accessToken))).status).toBe(204);
    await refusedOn(b, fourth.accessToken, 'the other instance to apply the cut-off');
    expect((await http(b).get('/private').set(bearer(fourth.accessToken))).status).toBe(401);
    expect((await http(b).post('/auth/refresh').send({ refreshToken: fourth.refreshToken })).status).toBe(401);

    // Revoking one token by the service.
    const fifth = await login(a, 'bob');
    await a.get(AuthService).revokeToken(fifth.accessToken);
    await refusedOn(b, fifth.accessToken, 'the other instance to refuse the revoked token');
    expect((await http(b).get('/private').set(bearer(fifth.accessToken))).status).toBe(401);

    // API keys: made on one instance, used and revoked across both.
    const keys = a.get(ApiKeyService);
    const { id, key } = await keys.create({ name: 'layout test', permissions: ['articles:read'] });
    expect((await http(b).get('/articles').set('x-api-key', key)).status).toBe(200);
    expect((await keys.list()).map((k) => k.id)).toContain(id);
    await keys.revoke(id);
    // b keeps verified keys for up to syncIntervalMs: wait, bounded, for it to drop the revoked one.
    await eventually(
      async () => (await http(b).get('/articles').set('x-api-key', key)).status === 401,
      'the other instance to refuse the revoked API key',
      WAIT_MS,
    ).catch(() => undefined);
    expect((await http(b).get('/articles').set('x-api-key', key)).status).toBe(401);

    // Purge runs on every store in this layout.
    expect(typeof (await b.get(AuthService).purgeExpired())).toBe('number');
  });
});

const postgres = enabledDatabases().find((t) => t.name === 'postgres');
// Skipped only without PostgreSQL (AUTH_TEST_POSTGRES_URL; .ci/run sets it): enabledDatabases() prints the skip.
(postgres ? describe : describe.skip)('two services in one PostgreSQL database, a schema each', () => {
  const apps: INestApplication[] = [];
  afterAll(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  test("LISTEN/NOTIFY: one service's logout everywhere does not reach the other's user of the same id; its own instances hear it", async () => {
    const users = await MemoryUsers.create();
    await postgres!.reset();
    const base = postgres!.options();
    const admin = await new DataSource(base).initialize();
    const schemas = [uniqueTestName('svc_a'), uniqueTestName('svc_b')];
    for (const schema of schemas) await admin.query(`CREATE SCHEMA "${schema}"`);
    await admin.destroy();
    const bootIn = async (schema: string) => {
      const options = { ...base, schema } as DataSourceOptions;
      const migrate = await new DataSource(options).initialize();
      await migrate.runMigrations();
      await migrate.destroy();
      // Polling far apart: only the channel can carry the change within the test.
      const app = await bootApp(
        { jwt: { secret: SECRET }, users, store: 'typeorm', revocation: { syncIntervalMs: 60_000, channelSyncIntervalMs: 60_000 } },
        { controllers: ALL_CONTROLLERS, imports: [TypeOrmModule.forRoot(options)] },
      );
      apps.push(app);
      return app;
    };
    const [a1, b] = [await bootIn(schemas[0]!), await bootIn(schemas[1]!)];
    const a2 = await bootIn(schemas[0]!);
    // Every instance's LISTEN is up (b's too: otherwise its silence below would prove nothing).
    const gates = [a1, a2, b].map((app) => app.get(RevocationSync));
    await eventually(async () => gates.every((g) => g.channelAlive), 'the channels to listen', WAIT_MS);
    const onA = await login(a2, 'root');
    const onB = await login(b, 'root');
    await sleep(1100); // a cut-off refuses tokens of the seconds before its own
    await a1.get(AuthService).revokeAllForUser('3');
    // Service A's other instance hears it at once (the channel), long before its next poll.
    await eventually(
      async () => (await request(a2.getHttpServer()).get('/private').set(bearer(onA.accessToken))).status === 401,
      "service A's other instance to hear the cut-off",
      WAIT_MS,
    );
    // Service B's user 3 is another person: untouched. A claim that nothing arrives, so it needs real time: B's
    // notification, were there one, would have come with A2's; 300 ms more gives a late one the chance to show.
    await sleep(300);
    expect((await request(b.getHttpServer()).get('/private').set(bearer(onB.accessToken))).status).toBe(200);
  });
});
