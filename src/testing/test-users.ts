import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthUserRecord, PasswordHasher, UserProvider } from '../users/user.types.js';

/** Who a test acts as. Everything is optional: the default is an authenticated user with no permission. */
export interface TestUser {
  id?: string | number;
  username?: string;
  email?: string;
  permissions?: readonly string[];
  isStaff?: boolean;
  isSuperuser?: boolean;
  isActive?: boolean;
}

/**
 * A fast hasher for tests only (SHA-256 with a salt): argon2id is deliberately
 * slow, and a suite that logs in hundreds of times should not pay for it.
 * Never use it in an application.
 */
export class TestPasswordHasher implements PasswordHasher {
  async hash(plain: string): Promise<string> {
    const salt = randomBytes(8).toString('hex');
    return `test-sha256$${salt}$${createHash('sha256')
      .update(salt + plain)
      .digest('hex')}`;
  }

  async verify(hash: string, plain: string): Promise<boolean> {
    const [scheme, salt, digest] = hash.split('$');
    if (scheme !== 'test-sha256' || salt === undefined || digest === undefined) return false;
    const actual = createHash('sha256')
      .update(salt + plain)
      .digest();
    const expected = Buffer.from(digest, 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

/** A `UserProvider` in memory, filled by the test (`add`) or by `TestAuthApp.session()`. */
export class TestUsers implements UserProvider {
  private readonly byId = new Map<string, AuthUserRecord>();
  private next = 1;

  constructor(private readonly hasher: PasswordHasher = new TestPasswordHasher()) {}

  /** Adds (or replaces, by username) a user; returns its record. */
  async add(user: TestUser & { password?: string } = {}): Promise<AuthUserRecord> {
    const record = this.recordOf(user, await this.hasher.hash(user.password ?? randomBytes(12).toString('base64url')));
    for (const [id, existing] of this.byId) if (existing.username === record.username) this.byId.delete(id);
    this.byId.set(String(record.id), record);
    return record;
  }

  /** The record a token for `user` is made from (no password: tokens issued directly never log in). */
  recordOf(user: TestUser, passwordHash = ''): AuthUserRecord {
    const id = user.id ?? `user-${this.next++}`;
    return {
      id,
      username: user.username ?? `user${String(id).replace(/^user-/, '')}`,
      email: user.email,
      passwordHash,
      isActive: user.isActive ?? true,
      isStaff: user.isStaff ?? false,
      isSuperuser: user.isSuperuser ?? false,
      permissions: [...(user.permissions ?? [])],
    };
  }

  async findByUsername(username: string): Promise<AuthUserRecord | null> {
    for (const user of this.byId.values()) if (user.username === username) return user;
    return null;
  }

  async findById(id: string): Promise<AuthUserRecord | null> {
    return this.byId.get(id) ?? null;
  }

  /** Changes a stored user (permissions, flags): what the next login or session refresh sees. */
  update(id: string | number, change: Partial<TestUser>): void {
    const user = this.byId.get(String(id));
    if (!user) throw new Error(`TestUsers.update(): no user ${String(id)}`);
    Object.assign(user, { ...change, permissions: change.permissions ? [...change.permissions] : user.permissions });
  }
}
