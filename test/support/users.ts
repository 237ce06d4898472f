import { Argon2PasswordHasher, type AuthModuleOptions, type AuthUserRecord, type PasswordHasher } from '../../src/index.js';
import { TestPasswordHasher, TestUsers, type TestUser } from '../../src/testing/index.js';

export const PASSWORDS = { alice: 'alice-password-1', bob: 'bob-password-1', root: 'root-password-1', carol: 'carol-password-1' };

/** `MemoryUsers.create(MODULE_DEFAULT_HASHER)`: argon2id hashes, and the app left on the module's own default hasher. */
export const MODULE_DEFAULT_HASHER = 'module-default';

/**
 * The shipped kit's `TestUsers` (`@democrai/nest-auth/testing`) holding four demo users: alice, bob (staff),
 * root (superuser) and carol (inactive), with `PASSWORDS`. Tests may change a user between requests (`update`,
 * or the record `get` returns).
 *
 * Hashed with the kit's fast `TestPasswordHasher` unless a test is about the hash itself: argon2id costs tens of
 * milliseconds a login, and most suites log in hundreds of times. The app under test must verify with the same
 * hasher: `bootApp` and the other builders here pass `users.passwordHasher` when the options name none
 * (`withUsersHasher`), so a test that does not care gets the fast hasher end to end.
 */
export class MemoryUsers extends TestUsers {
  /** Every record by username: the kit keeps them by id, privately; `get` answers without a promise. */
  private readonly named = new Map<string, AuthUserRecord>();

  /** The app's `passwordHasher` option, which the builders pass: the hasher the users were made with, or none (the module's default, argon2id). */
  readonly passwordHasher: PasswordHasher | undefined;

  /** `hasher` makes the hashes (the demo users' and `add`'s); `passwordHasher` is what the app is given to verify them. */
  constructor(hasher: PasswordHasher = new TestPasswordHasher(), passwordHasher: PasswordHasher | typeof MODULE_DEFAULT_HASHER = hasher) {
    super(hasher);
    this.passwordHasher = passwordHasher === MODULE_DEFAULT_HASHER ? undefined : passwordHasher;
  }

  /**
   * The demo users, hashed by `hasher`: the kit's `TestPasswordHasher` by default; a test whose subject is the
   * hash gives `new Argon2PasswordHasher(...)`, or `MODULE_DEFAULT_HASHER` to run the module's default hasher
   * (no `passwordHasher` option). A subclass (`CountingUsers.create()`) gets an instance of itself.
   */
  static async create<T extends MemoryUsers>(
    this: new (hasher?: PasswordHasher, passwordHasher?: PasswordHasher | typeof MODULE_DEFAULT_HASHER) => T,
    hasher: PasswordHasher | typeof MODULE_DEFAULT_HASHER = new TestPasswordHasher(),
  ): Promise<T> {
    const users = hasher === MODULE_DEFAULT_HASHER ? new this(new Argon2PasswordHasher(), MODULE_DEFAULT_HASHER) : new this(hasher);
    await users.add({ id: 1, username: 'alice', email: 'alice@example.test', permissions: ['articles:read'], password: PASSWORDS.alice });
    await users.add({ id: 2, username: 'bob', isStaff: true, permissions: ['articles:read', 'articles:write'], password: PASSWORDS.bob });
    await users.add({ id: 3, username: 'root', isSuperuser: true, permissions: [], password: PASSWORDS.root });
    await users.add({ id: 4, username: 'carol', isActive: false, permissions: ['articles:read'], password: PASSWORDS.carol });
    return users;
  }

  override async add(user: TestUser & { password?: string } = {}): Promise<AuthUserRecord> {
    const record = await super.add(user);
    // The kit replaced any user of that username or id: only what it still stores stays named.
    for (const [name, stored] of this.named) if ((await super.findById(String(stored.id))) !== stored) this.named.delete(name);
    this.named.set(record.username, record);
    return record;
  }

  override update(id: string | number, change: Partial<TestUser>): void {
    super.update(id, change);
    for (const [name, stored] of this.named)
      if (stored.username !== name) {
        this.named.delete(name);
        this.named.set(stored.username, stored);
      }
  }

  /** The stored record of `username` (the same object the app reads: a change to it is what the next login sees). */
  get(username: string): AuthUserRecord {
    const user = this.named.get(username);
    if (!user) throw new Error(`no test user ${username}`);
    return user;
  }

  /** Every stored record. */
  all(): AuthUserRecord[] {
    return [...this.named.values()];
  }
}

/**
 * The options with `passwordHasher` set to the hasher their `MemoryUsers` were made with, when they name none:
 * the app then verifies what the users were hashed with. Other options are returned as they are.
 */
export function withUsersHasher<T extends AuthModuleOptions>(options: T): T {
  if (options.passwordHasher !== undefined || !(options.users instanceof MemoryUsers) || options.users.passwordHasher === undefined) return options;
  return { ...options, passwordHasher: options.users.passwordHasher };
}
