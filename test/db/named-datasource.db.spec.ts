import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases } from '../support/databases.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

describe('store: { type: "typeorm", dataSource: name }', () => {
  test('the module keeps its rows in the named DataSource, not the default one', async () => {
    const [defaultDb, authDb] = [enabledDatabases()[0], enabledDatabases()[0]];
    const users = await MemoryUsers.create();
    const app = await bootApp(
      { jwt: { secret: SECRET }, users, store: { type: 'typeorm', dataSource: 'auth' } },
      {
        controllers: ALL_CONTROLLERS,
        imports: [
          TypeOrmModule.forRoot({ ...defaultDb.options(), entities: [], synchronize: true }),
          TypeOrmModule.forRoot({ ...authDb.options(), name: 'auth', synchronize: true }),
        ],
      },
    );
    try {
      const res = await request(app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
      expect(res.status).toBe(200);
      const named = app.get<DataSource>(getDataSourceToken('auth'));
      expect(Number((await named.query('SELECT COUNT(*) AS n FROM auth_sessions'))[0].n)).toBe(1);
      const fallback = app.get(DataSource);
      await expect(fallback.query('SELECT COUNT(*) AS n FROM auth_sessions')).rejects.toThrow();
    } finally {
      await app.close();
    }
  });
});
