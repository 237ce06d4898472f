import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { DataSource, EntitySchema, type Repository } from 'typeorm';
import type { AuthUserRecord, UserProvider } from '../../src/index.js';
import { TestPasswordHasher } from '../../src/testing/index.js';
import { SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { createTestDatabase } from '../support/databases.js';
import { bootThrottledApp } from '../support/throttle-app.js';

interface AppUser {
  id: number;
  username: string;
  passwordHash: string;
}

/** An app's own users table, created with the database's default collation (MariaDB: utf8mb4_general_ci). */
const AppUserSchema = new EntitySchema<AppUser>({
  name: 'AppUser',
  tableName: 'app_users',
  columns: {
    id: { type: Number, primary: true, generated: true },
    username: { type: String, length: 150, unique: true },
    passwordHash: { type: String, length: 255, name: 'password_hash' },
  },
});

/** The UserProvider an app writes over TypeORM: `WHERE username = ?`, whatever the collation makes of it. */
class TypeOrmUsers implements UserProvider {
  constructor(private readonly repo: Repository<AppUser>) {}
  private record(u: AppUser | null): AuthUserRecord | null {
    return u && { id: u.id, username: u.username, passwordHash: u.passwordHash, permissions: [] };
  }
  async findByUsername(username: string) {
    return this.record(await this.repo.findOne({ where: { username } }));
  }
  async findById(id: string) {
    return this.record(await this.repo.findOne({ where: { id: Number(id) } }));
  }
}

const url = process.env.AUTH_TEST_MYSQL_URL;
if (!url) process.stdout.write('[account-binding.db] skipped: MariaDB/MySQL (set AUTH_TEST_MYSQL_URL)\n');
// Skipped only without MariaDB (AUTH_TEST_MYSQL_URL; .ci/run sets it), with the line above saying so.
const describeMysql = url ? describe : describe.skip;

describeMysql('one account, one budget, on MariaDB with its default collation (TypeORM UserProvider)', () => {
  let app: INestApplication;
  let ds: DataSource;
  const login = (username: string, password: string) => request(app.getHttpServer()).post('/auth/login').send({ username, password });

  beforeAll(async () => {
    const dbUrl = await createTestDatabase('mysql', url!);
    ds = await new DataSource({ type: 'mysql', url: dbUrl, entities: [AppUserSchema], synchronize: true }).initialize();
    // The kit's fast hasher: what is tested is the collation's lookup, not the hash.
    const hasher = new TestPasswordHasher();
    await ds.getRepository(AppUserSchema).save({ username: 'alice', passwordHash: await hasher.hash('alice-password-1') });
    app = await bootThrottledApp(
      {
        jwt: { secret: SECRET },
        users: new TypeOrmUsers(ds.getRepository(AppUserSchema)),
        passwordHasher: hasher,
        loginThrottle: { perAccountAndIp: { limit: 3, windowSeconds: 60 }, perIp: false },
      },
      { controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app?.close();
    await ds?.destroy();
  });

  test('the collation resolves álice, ALICE and âlicę to alice', async () => {
    const repo = ds.getRepository(AppUserSchema);
    for (const spelling of ['álice', 'ALICE', 'âlicę']) expect((await repo.findOne({ where: { username: spelling } }))?.username).toBe('alice');
  });

  test('after alice is throttled, no spelling of her name gets more guesses, nor in with the right password', async () => {
    for (let i = 0; i < 3; i++) expect((await login('alice', 'wrong')).status).toBe(401);
    expect((await login('alice', 'alice-password-1')).status).toBe(429);
    for (const spelling of ['álice', 'âlicę', 'ÂLICE', 'alicę']) {
      const res = await login(spelling, 'alice-password-1');
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('invalid_credentials');
    }
  });
});
