import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { AuthService } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases } from '../support/databases.js';
import { MemoryUsers } from '../support/users.js';

/** Counts every query TypeORM sends. */
class QueryCounter implements TypeOrmLogger {
  count = 0;
  logQuery() {
    this.count++;
  }
  logQueryError() {}
  logQuerySlow() {}
  logSchemaBuild() {}
  logMigration() {}
  log() {}
}

describe('database round trips of an authenticated request (SQLite)', () => {
  const sqlite = enabledDatabases()[0];
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function bootCounting(consistency: 'cached' | 'strict') {
    await sqlite.reset();
    const counter = new QueryCounter();
    const users = await MemoryUsers.create();
    app = await bootApp(
      // A long interval keeps the background poll out of the measured window: only the requests' own queries count.
      { jwt: { secret: SECRET }, users, store: 'typeorm', revocation: { consistency, syncIntervalMs: 60_000 } },
      {
        controllers: ALL_CONTROLLERS,
        imports: [TypeOrmModule.forRoot({ ...sqlite.options(), synchronize: true, logging: ['query'], logger: counter })],
      },
    );
    const pair = await app.get(AuthService).login('alice', 'alice-password-1');
    return { counter, token: pair.accessToken };
  }

  test('cached mode: zero queries for 50 authenticated, permission-checked requests', async () => {
    const { counter, token } = await bootCounting('cached');
    const http = request(app!.getHttpServer());
    counter.count = 0;
    for (let i = 0; i < 50; i++) {
      const res = await http.get('/articles').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
    }
    expect(counter.count).toBe(0);
  });

  test('strict mode asks the store on every request (the counter sees queries)', async () => {
    const { counter, token } = await bootCounting('strict');
    const http = request(app!.getHttpServer());
    counter.count = 0;
    for (let i = 0; i < 5; i++) expect((await http.get('/articles').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(counter.count).toBeGreaterThanOrEqual(5);
  });
});
