import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthConfigError, AuthModule, authEntities } from '../../src/index.js';
import { initError, SECRET } from '../support/app.js';
import { MemoryUsers } from '../support/users.js';

/**
 * The one lookup of the app's DataSource (src/persistence/app-data-source.ts) that every TypeORM-backed store
 * uses: each way it can be missing fails the boot with an AuthConfigError naming the option that chose it.
 */
const sqlite = (entities: unknown[], name?: string) =>
  TypeOrmModule.forRoot({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: entities as never[],
    synchronize: true,
    ...(name ? { name } : {}),
  });

const auth = async (options: Record<string, unknown>) =>
  AuthModule.forRoot({ jwt: { secret: SECRET }, users: await MemoryUsers.create(), ...options } as never);

describe("store: 'typeorm' finds the app's DataSource, or the boot says which option needs what", () => {
  test('no TypeOrmModule at all: the `store` option and the DataSource "default" are named', async () => {
    const err = await initError([await auth({ store: 'typeorm' })]);
    expect(err).toBeInstanceOf(AuthConfigError);
    expect((err as AuthConfigError).option).toBe('store');
    expect(err!.message).toMatch(/DataSource "default"/);
    expect(err!.message).toMatch(/TypeOrmModule\.forRoot\(\)/);
  });

  test('a named DataSource that the app does not have: its name and the forRoot call that makes it', async () => {
    const err = await initError([sqlite([...authEntities]), await auth({ store: { type: 'typeorm', dataSource: 'auth' } })]);
    expect((err as AuthConfigError).option).toBe('store');
    expect(err!.message).toMatch(/DataSource "auth"/);
    expect(err!.message).toMatch(/forRoot\(\{ name: 'auth' \}\)/);
  });

  test("the throttle's entity left out of the DataSource: `loginThrottle.store` is named with the fix", async () => {
    const withoutThrottle = authEntities.filter((e) => (e as { options: { name: string } }).options.name !== 'AuthThrottleCounter');
    expect(withoutThrottle.length).toBe(authEntities.length - 1);
    const err = await initError([sqlite(withoutThrottle), await auth({ store: 'typeorm', loginThrottle: { store: 'typeorm' } })]);
    expect((err as AuthConfigError).option).toBe('loginThrottle.store');
    expect(err!.message).toMatch(/does not know the entity of the login throttle's counters: add \.\.\.authEntities/);
  });

  test("tables not created yet: the boot names the migration set of the DataSource's dialect", async () => {
    const unsynced = TypeOrmModule.forRoot({ type: 'better-sqlite3', database: ':memory:', entities: [...authEntities] as never[] });
    const err = await initError([unsynced, await auth({ store: 'typeorm' })]);
    expect((err as AuthConfigError).option).toBe('store');
    expect(err!.message).toMatch(/is missing in DataSource "default": add authMigrations\.sqlite to its migrations/);
  });

  test('with every entity the same boot succeeds (the failures above are the missing pieces, nothing else)', async () => {
    const err = await initError([sqlite([...authEntities]), await auth({ store: 'typeorm', loginThrottle: { store: 'typeorm' } })]);
    expect(err).toBeUndefined();
  });
});
