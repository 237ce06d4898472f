import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import type { DataSourceOptions } from 'typeorm';
import { AuthService, type AuthModuleOptions } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource, type DbTarget } from '../support/databases.js';
import { bearer, login, type TokenPair } from '../support/http.js';
import { compiledSources, root } from '../support/compiled-sources.js';
import { CapturingLogger } from '../support/logger.js';
import { eventually } from '../support/time.js';
import { MemoryUsers } from '../support/users.js';

/**
 * SQLite (better-sqlite3) gives TypeORM one connection per DataSource: two transactions of the module open at once
 * on it collided ("cannot start a transaction within a transaction") and a loser of a refresh race got 503 instead
 * of 401. Concurrent rotation, reuse detection, logout and throttle counting, in one instance and in two that share
 * one database file, must give exactly the answers a server database gives.
 */
const sqlite = enabledDatabases().find((t) => t.name === 'sqlite') as DbTarget;
const N = 20;

describe.each([
  { instances: 1, name: 'one instance' },
  { instances: 2, name: 'two instances on one file' },
])('SQLite under concurrency: $name', ({ instances }) => {
  let users: MemoryUsers;
  let apps: INestApplication[] = [];
  const logger = new CapturingLogger();

  beforeAll(async () => {
    users = await MemoryUsers.create();
    await sqlite.reset();
    await (await migratedDataSource(sqlite)).destroy();
    const options: AuthModuleOptions = {
      jwt: { secret: SECRET },
      users,
      store: 'typeorm',
      revocation: { syncIntervalMs: 50 },
      loginThrottle: {
        perAccountAndIp: { limit: 5, windowSeconds: 60 },
        refreshPerIp: { limit: 1000, windowSeconds: 60 },
        passwordChecks: { concurrency: 2, maxQueued: 100 },
      },
    };
    for (let i = 0; i < instances; i++) {
      apps.push(
        await bootApp(options, {
          controllers: ALL_CONTROLLERS,
          imports: [TypeOrmModule.forRoot(sqlite.options() as DataSourceOptions)],
          logger,
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps = [];
  });

  const app = (i: number) => apps[i % apps.length]!;
  const statuses = (responses: Array<{ status: number; body: { code?: string } }>) =>
    responses.map((r) => `${r.status}${r.body.code ? ` ${r.body.code}` : ''}`).sort();
  const tally = (list: string[]) => Object.fromEntries([...new Set(list)].map((s) => [s, list.filter((x) => x === s).length]));

  /** N sessions (logged in one after the other: concurrent logins of one account are the throttle's business). */
  async function sequentialLogins(user: (i: number) => 'alice' | 'bob' | 'root'): Promise<TokenPair[]> {
    const pairs: TokenPair[] = [];
    for (let i = 0; i < N; i++) pairs.push(await login(app(i), user(i)));
    return pairs;
  }

  test(`${N} concurrent refreshes of one token: one new pair, every other caller 401, none 503`, async () => {
    const { refreshToken } = await login(app(0), 'alice');
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) => request(app(i).getHttpServer()).post('/auth/refresh').send({ refreshToken })),
    );
    expect(tally(statuses(responses))).toEqual({ '200': 1, '401 token_revoked': N - 1 });
    // The losers presented a rotated-out token: reuse, so the session has ended and the winner's pair is dead too.
    const winner = responses.find((r) => r.status === 200)!.body as TokenPair;
    expect((await request(app(1).getHttpServer()).post('/auth/refresh').send({ refreshToken: winner.refreshToken })).body.code).toBe('token_revoked');
    expect(logger.text).not.toMatch(/transaction within a transaction|store_failed/);
  });

  test(`${N} concurrent reuses of a rotated-out token while the new one is used: reuse ends the session, no 503`, async () => {
    const first = await login(app(0), 'bob');
    const second = (await request(app(1).getHttpServer()).post('/auth/refresh').send({ refreshToken: first.refreshToken })).body as TokenPair;
    const responses = await Promise.all([
      ...Array.from({ length: N }, (_, i) => request(app(i).getHttpServer()).post('/auth/refresh').send({ refreshToken: first.refreshToken })),
      request(app(1).getHttpServer()).post('/auth/refresh').send({ refreshToken: second.refreshToken }),
    ]);
    const list = statuses(responses);
    // The legitimate holder may win its refresh before the reuse ends the session; nothing else may happen.
    expect(list.filter((s) => s !== '401 token_revoked' && s !== '200')).toEqual([]);
    expect(list.filter((s) => s === '401 token_revoked').length).toBeGreaterThanOrEqual(N);
    expect(await app(0).get(AuthService).purgeExpired()).toEqual(expect.any(Number));
  });

  test(`${N} sessions logging out at once (session ended and access token revoked, in transactions): all 204`, async () => {
    const pairs = await sequentialLogins((i) => (i % 2 === 0 ? 'alice' : 'root'));
    const responses = await Promise.all(pairs.map((p, i) => request(app(i).getHttpServer()).post('/auth/logout').set(bearer(p.accessToken))));
    expect(tally(statuses(responses))).toEqual({ '204': N });
    const onEach = (offset: number) =>
      Promise.all(
        pairs.map((p, i) =>
          request(app(i + offset).getHttpServer())
            .get('/private')
            .set(bearer(p.accessToken)),
        ),
      );
    // The instance that served the logout refuses at once; another one learns it from the change log on its next
    // poll (syncIntervalMs 50, later on a loaded machine), so there the test waits, bounded, for every refusal.
    expect(tally(statuses(await onEach(0)))).toEqual({ [`401 token_revoked`]: N });
    let after: string[] = [];
    await eventually(
      async () => {
        after = statuses(await onEach(1));
        return after.every((s) => s === '401 token_revoked');
      },
      'every instance to refuse the logged-out tokens',
      5000,
    ).catch(() => undefined);
    expect(tally(after)).toEqual({ [`401 token_revoked`]: N });
  });

  test(`${N} concurrent logouts everywhere and revocations for one user: all done, none 503`, async () => {
    const pairs = await sequentialLogins(() => 'bob');
    const responses = await Promise.all(
      pairs.map((p, i) =>
        i % 2 === 0
          ? request(app(i).getHttpServer()).post('/auth/logout-all').set(bearer(p.accessToken))
          : request(app(i).getHttpServer()).post('/auth/logout').set(bearer(p.accessToken)),
      ),
    );
    expect(statuses(responses).filter((s) => !/^(204|401 token_revoked)$/.test(s))).toEqual([]);
    const after = await Promise.all(pairs.map((p, i) => request(app(i).getHttpServer()).get('/private').set(bearer(p.accessToken))));
    expect(tally(statuses(after))).toEqual({ [`401 token_revoked`]: N });
  });

  // The same through AuthService, all calls started in one tick (as a job or a queue consumer fans out): every
  // transaction of the module is open at once on the one connection.
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: { getStatus?: () => number; getResponse?: () => { code?: string } }) => `${err.getStatus?.()} ${err.getResponse?.().code}`,
    );

  test(`AuthService: ${N} refreshes of one token started at once: one pair, ${N - 1} token_revoked`, async () => {
    const { refreshToken } = await login(app(0), 'alice');
    const results = await Promise.all(Array.from({ length: N }, (_, i) => outcome(app(i).get(AuthService).refresh(refreshToken))));
    expect(tally(results.sort())).toEqual({ '401 token_revoked': N - 1, ok: 1 });
  });

  test(`AuthService: ${N} revocations and ${N} logouts everywhere started at once: all done`, async () => {
    const pairs = await sequentialLogins((i) => (i % 2 === 0 ? 'alice' : 'bob'));
    const results = await Promise.all([
      ...pairs.map((p, i) => outcome(app(i).get(AuthService).revokeToken(p.refreshToken))),
      ...pairs.map((p, i) => outcome(app(i).get(AuthService).revokeToken(p.accessToken))),
      ...Array.from({ length: N }, (_, i) =>
        outcome(
          app(i)
            .get(AuthService)
            .revokeAllForUser(i % 2 === 0 ? '1' : '2'),
        ),
      ),
    ]);
    expect(tally(results)).toEqual({ ok: 3 * N });
    // The other instance learns from the change log on its next poll (syncIntervalMs): wait for it, bounded.
    const onOther = () =>
      Promise.all(
        pairs.map((p, i) =>
          outcome(
            app(i + 1)
              .get(AuthService)
              .verifyAccessToken(p.accessToken),
          ),
        ),
      );
    let after: string[] = [];
    await eventually(async () => (after = await onOther()).every((s) => s === '401 token_revoked'), 'the other instance to refuse', 5000).catch(
      () => undefined,
    );
    expect(tally(after)).toEqual({ '401 token_revoked': N });
  });

  test(`${N} concurrent wrong passwords for one account: exactly the limit gets through, the rest 429`, async () => {
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        request(app(i).getHttpServer())
          .post('/auth/login')
          .send({ username: 'root', password: `wrong-${i}` }),
      ),
    );
    expect(tally(statuses(responses))).toEqual({ '401 invalid_credentials': 5, '429 too_many_attempts': N - 5 });
  });
});

describe('SQLite under concurrency: two instances in two processes on one file', () => {
  let users: MemoryUsers;
  let app: INestApplication;
  let peer: ChildProcess | undefined;
  let peerUrl: string;
  let peerLog = '';

  beforeAll(async () => {
    users = await MemoryUsers.create();
    await sqlite.reset();
    await (await migratedDataSource(sqlite)).destroy();
    const options = sqlite.options() as DataSourceOptions & { database: string };
    app = await bootApp(
      {
        jwt: { secret: SECRET },
        users,
        store: 'typeorm',
        revocation: { syncIntervalMs: 50 },
        loginThrottle: { refreshPerIp: { limit: 1000, windowSeconds: 60 } },
      },
      { controllers: ALL_CONTROLLERS, imports: [TypeOrmModule.forRoot(options)] },
    );
    peer = spawn(process.execPath, [join(root, 'test/db/sqlite-peer.mjs'), compiledSources(), options.database, SECRET], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    peer.stderr!.on('data', (chunk: Buffer) => (peerLog += chunk.toString()));
    peerUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      peer!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const port = /PORT (\d+)/.exec(out)?.[1];
        if (port) resolve(`http://127.0.0.1:${port}`);
      });
      peer!.once('exit', (code) => reject(new Error(`the peer exited (${code}): ${peerLog.slice(-2000)}`)));
    });
  }, 120_000);
  afterAll(async () => {
    if (peer && peer.exitCode === null) {
      const exited = new Promise((r) => peer!.once('exit', r));
      peer.kill('SIGTERM');
      await exited;
    }
    await app?.close();
  });

  test(`${N} concurrent refreshes of one token, half on each process: one new pair, every other caller 401, none 503`, async () => {
    const { refreshToken } = await login(app, 'alice');
    const target = (i: number) => (i % 2 === 0 ? request(app.getHttpServer()) : request(peerUrl));
    const responses = await Promise.all(Array.from({ length: N }, (_, i) => target(i).post('/auth/refresh').send({ refreshToken })));
    const list = responses.map((r) => `${r.status}${r.body.code ? ` ${r.body.code}` : ''}`).sort();
    const counts = Object.fromEntries([...new Set(list)].map((s) => [s, list.filter((x) => x === s).length]));
    expect(counts).toEqual({ '200': 1, '401 token_revoked': N - 1 });
    // The losers were reuse: the session has ended, so the winner's access token is refused on both processes.
    const winner = responses.find((r) => r.status === 200)!.body as TokenPair;
    // Whichever process saw the reuse ended the session; the other learns it on its next poll: wait, bounded.
    const onBoth = async () =>
      Promise.all(
        [request(peerUrl), request(app.getHttpServer())].map(async (r) => (await r.get('/private').set(bearer(winner.accessToken))).status),
      );
    let both: number[] = [];
    await eventually(async () => (both = await onBoth()).every((s) => s === 401), 'both processes to refuse', 5000).catch(() => undefined);
    expect(both).toEqual([401, 401]);
    expect(peerLog).not.toMatch(/transaction within a transaction|store_failed|SQLITE_BUSY/);
  });

  test(`AuthService: ${N} refreshes of one token started at once, half in each process: one pair, ${N - 1} token_revoked`, async () => {
    const { refreshToken } = await login(app, 'alice');
    const auth = app.get(AuthService);
    const here = Array.from({ length: N / 2 }, () =>
      auth.refresh(refreshToken).then(
        () => 'ok',
        (err: { getStatus?: () => number; getResponse?: () => { code?: string } }) => `${err.getStatus?.()} ${err.getResponse?.().code}`,
      ),
    );
    const [there, ...mine] = await Promise.all([
      request(peerUrl)
        .post('/race')
        .send({ refreshToken, n: N / 2 }),
      ...here,
    ]);
    const list = [...(there.body as string[]), ...mine];
    const counts = Object.fromEntries([...new Set(list)].map((s) => [s, list.filter((x) => x === s).length]));
    expect(counts).toEqual({ ok: 1, '401 token_revoked': N - 1 });
    expect(peerLog).not.toMatch(/transaction within a transaction|store_failed|SQLITE_BUSY/);
  });
});
