import { Argon2PasswordHasher, type AuthUserRecord, type UserProvider } from '../../src/index.js';

export const PASSWORDS = { alice: 'alice-password-1', bob: 'bob-password-1', root: 'root-password-1', carol: 'carol-password-1' };

/** An in-memory UserProvider with real argon2id hashes; tests may change a user between requests. */
export class MemoryUsers implements UserProvider {
  readonly byId = new Map<string, AuthUserRecord>();

  static async create(): Promise<MemoryUsers> {
    const hasher = new Argon2PasswordHasher();
    const users = new MemoryUsers();
    const add = async (record: Omit<AuthUserRecord, 'passwordHash'>, password: string) =>
      users.byId.set(String(record.id), { ...record, passwordHash: await hasher.hash(password) });
    await add({ id: 1, username: 'alice', email: 'alice@example.test', permissions: ['articles:read'] }, PASSWORDS.alice);
    await add({ id: 2, username: 'bob', isStaff: true, permissions: ['articles:read', 'articles:write'] }, PASSWORDS.bob);
    await add({ id: 3, username: 'root', isSuperuser: true, permissions: [] }, PASSWORDS.root);
    await add({ id: 4, username: 'carol', isActive: false, permissions: ['articles:read'] }, PASSWORDS.carol);
    return users;
  }

  async findByUsername(username: string): Promise<AuthUserRecord | null> {
    for (const user of this.byId.values()) if (user.username === username) return user;
    return null;
  }

  async findById(id: string): Promise<AuthUserRecord | null> {
    return this.byId.get(id) ?? null;
  }

  get(username: string): AuthUserRecord {
    for (const user of this.byId.values()) if (user.username === username) return user;
    throw new Error(`no test user ${username}`);
  }
}
