/**
 * Issue #24 item 4: revocation has one writer. A logout, a revoked token and a cut-off each make ONE write to
 * the store (one transaction, committing the change with its change-log rows) and ONE publish on the channel.
 * Counted on a real database through the app's own DataSource (its transactions, its change-log rows) and a
 * channel that records what it is asked to publish.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, type Logger as TypeOrmLogger } from 'typeorm';
import { AuthService, type RevocationChannel, type RevocationEvent } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource, type DbTarget } from '../support/databases.js';
import { bearer, login } from '../support/http.js';
import { sleep } from '../support/time.js';
import { MemoryUsers } from '../support/users.js';

/** A channel that delivers nothing and remembers every event it was asked to publish. */
class RecordingChannel implements RevocationChannel {
  readonly name = 'recording';
  readonly published: RevocationEvent[] = [];
  async start(listener: Parameters<RevocationChannel['start']>[0]): Promise<void> {
    listener.alive();
  }
  async publish(event: RevocationEvent): Promise<void> {
    this.published.push(event);
  }
  async stop(): Promise<void> {}
}

/** Counts the transactions the app's DataSource commits (TypeORM logs BEGIN/START TRANSACTION and COMMIT as queries). */
class CommitCounter implements TypeOrmLogger {
  commits = 0;
  logQuery(query: string): void {
    if (/^\s*COMMIT\b/i.test(query)) this.commits++;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

describe.each(enabledDatabases())('one write and one publish per revocation on $name', (target: DbTarget) => {
  let app: INestApplication;
  const channel = new RecordingChannel();
  const counter = new CommitCounter();
  let log: DataSource;

  beforeAll(async () => {
    await target.reset();
    await (await migratedDataSource(target)).destroy();
    app = await bootApp(
      {
        jwt: { secret: SECRET },
        users: await MemoryUsers.create(),
        store: 'typeorm',
        revocation: { syncIntervalMs: 1000, channel },
      },
      { controllers: ALL_CONTROLLERS, imports: [TypeOrmModule.forRoot({ ...target.options(), logging: true, logger: counter })] },
    );
    log = app.get(DataSource);
  });
  afterAll(async () => {
    await app?.close();
  });

  /** What `work` wrote and published: transactions committed, change-log rows added, events published. */
  async function counted(work: () => Promise<unknown>): Promise<{ commits: number; rows: number; publishes: number; kinds: string[] }> {
    const rowsBefore = await changeRows();
    const commitsBefore = counter.commits;
    const publishedBefore = channel.published.length;
    await work();
    const events = channel.published.slice(publishedBefore);
    return {
      commits: counter.commits - commitsBefore,
      rows: (await changeRows()) - rowsBefore,
      publishes: events.length,
      kinds: events.map((e) => e.kind),
    };
  }

  async function changeRows(): Promise<number> {
    const [row] = (await log.query('SELECT COUNT(*) AS n FROM auth_revocation_log')) as Array<{ n: number | string }>;
    return Number(row!.n);
  }

  test('logout: the session ends in one write with one change-log row, and one publish', async () => {
    const pair = await login(app, 'alice');
    const effect = await counted(async () =>
      expect((await request(app.getHttpServer()).post('/auth/logout').set(bearer(pair.accessToken))).status).toBe(204),
    );
    expect(effect).toEqual({ commits: 1, rows: 1, publishes: 1, kinds: ['session'] });
    // And it did what a logout does: the access token and the refresh token are refused.
    expect((await request(app.getHttpServer()).get('/private').set(bearer(pair.accessToken))).body.code).toBe('token_revoked');
    expect((await request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken })).body.code).toBe('token_revoked');
  });

  test('revokeToken: one write, one change-log row, one publish', async () => {
    const pair = await login(app, 'bob');
    const effect = await counted(() => app.get(AuthService).revokeToken(pair.accessToken));
    expect(effect).toEqual({ commits: 1, rows: 1, publishes: 1, kinds: ['jti'] });
    expect((await request(app.getHttpServer()).get('/private').set(bearer(pair.accessToken))).body.code).toBe('token_revoked');
  });

  test('revokeAllForUser: the cut-off and the end of every session in one write (a row each), one publish', async () => {
    const one = await login(app, 'root');
    const two = await login(app, 'root');
    // A cut-off refuses session tokens issued in a second before its own (same-second ones go with their sessions).
    await sleep(1100);
    const effect = await counted(() => app.get(AuthService).revokeAllForUser('3'));
    expect(effect).toEqual({ commits: 1, rows: 3, publishes: 1, kinds: ['cutoff'] });
    for (const pair of [one, two]) {
      expect((await request(app.getHttpServer()).get('/private').set(bearer(pair.accessToken))).status).toBe(401);
      expect((await request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: pair.refreshToken })).body.code).toBe('token_revoked');
    }
  });
});
