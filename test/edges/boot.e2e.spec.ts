import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { AuthModule, AuthService, type AuthModuleOptions } from '../../src/index.js';
import { bootApp, initError, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases } from '../support/databases.js';
import { CapturingLogger } from '../support/logger.js';
import { MemoryUsers, withUsersHasher } from '../support/users.js';

describe('a configuration a new user gets wrong fails at boot and says how to fix it', () => {
  test('secret: process.env.JWT_SECRET with the variable unset says the value is empty', async () => {
    const err = await initError([AuthModule.forRoot({ jwt: { secret: process.env.NEST_AUTH_SURELY_UNSET } })]);
    expect(err?.message).toMatch(/"jwt\.secret": is empty \(undefined\).*environment variable/);
    expect((await initError([AuthModule.forRoot({ jwt: { secret: '' } })]))?.message).toMatch(/"jwt\.secret": is empty \(''\)/);
  });

  test('module extras returned by a forRootAsync factory are refused, naming where they go', async () => {
    const err = await initError([AuthModule.forRootAsync({ useFactory: () => ({ jwt: { secret: SECRET }, globalGuard: false }) as never })]);
    expect(err?.message).toMatch(/"globalGuard".*beside useFactory/);
  });

  test.each(enabledDatabases().filter((t) => t.name === 'sqlite'))('a missing migration names authMigrations ($name)', async (target) => {
    await target.reset();
    const { migrations: _none, ...withoutMigrations } = target.options() as unknown as Record<string, unknown>;
    const err = await initError([
      TypeOrmModule.forRoot(withoutMigrations as never),
      AuthModule.forRoot({ jwt: { secret: SECRET }, store: 'typeorm' }),
    ]);
    expect(err?.message).toMatch(/"store".*authMigrations\.sqlite/);
  });

  test('no users option: the boot warns that login() will fail', async () => {
    const logger = new CapturingLogger();
    const app = await bootApp({ jwt: { secret: SECRET } }, { logger });
    try {
      expect(logger.text).toMatch(/no `users` option: login\(\) and refresh\(\) will fail/);
    } finally {
      await app.close();
    }
  });
});

@Injectable()
class AuthOptionsFactory {
  async createAuthOptions(): Promise<AuthModuleOptions> {
    return withUsersHasher({ jwt: { secret: SECRET }, users: await MemoryUsers.create() });
  }
}

@Module({ providers: [AuthOptionsFactory], exports: [AuthOptionsFactory] })
class OptionsModule {}

describe('forRootAsync takes useFactory, useClass and useExisting', () => {
  test.each([
    [
      'useFactory',
      () => AuthModule.forRootAsync({ useFactory: async () => withUsersHasher({ jwt: { secret: SECRET }, users: await MemoryUsers.create() }) }),
    ],
    ['useClass', () => AuthModule.forRootAsync({ useClass: AuthOptionsFactory })],
    ['useExisting', () => AuthModule.forRootAsync({ imports: [OptionsModule], useExisting: AuthOptionsFactory })],
  ])('%s', async (_name, make) => {
    const moduleRef = await Test.createTestingModule({ imports: [make()], controllers: ALL_CONTROLLERS }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const pair = await app.get(AuthService).login('alice', 'alice-password-1');
      expect((await request(app.getHttpServer()).get('/private').set('Authorization', `Bearer ${pair.accessToken}`)).status).toBe(200);
      expect((await request(app.getHttpServer()).get('/private')).status).toBe(401);
    } finally {
      await app.close();
    }
  });
});
