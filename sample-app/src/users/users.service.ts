import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Argon2PasswordHasher, type AuthUserRecord, type UserProvider } from '@democrai/nest-auth';
import type { Repository } from 'typeorm';
import { User } from './user.entity.js';

/** The demo accounts, created on the first start (see sample-app/README.md). */
const SEED = [
  { username: 'alice', password: 'alice-demo-password', email: 'alice@example.com', permissions: ['articles:read'] },
  { username: 'bob', password: 'bob-demo-password', isStaff: true, permissions: ['articles:read', 'articles:write'] },
  { username: 'admin', password: 'admin-demo-password', isStaff: true, isSuperuser: true, permissions: [] },
];

/** The app's users, as the auth module sees them. */
@Injectable()
export class UsersService implements UserProvider, OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async findByUsername(username: string): Promise<AuthUserRecord | null> {
    return this.users.findOne({ where: { username } }).then(toRecord);
  }

  async findById(id: string): Promise<AuthUserRecord | null> {
    const numeric = Number(id);
    if (!Number.isSafeInteger(numeric)) return null;
    return this.users.findOne({ where: { id: numeric } }).then(toRecord);
  }

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.users.count()) > 0) return;
    const hasher = new Argon2PasswordHasher();
    for (const { password, ...user } of SEED) {
      await this.users.insert({ isStaff: false, isSuperuser: false, email: null, ...user, passwordHash: await hasher.hash(password) });
    }
    this.logger.log(`seeded demo users: ${SEED.map((u) => u.username).join(', ')}`);
  }
}

function toRecord(user: User | null): AuthUserRecord | null {
  if (!user) return null;
  return {
    id: user.id,
    username: user.username,
    email: user.email ?? undefined,
    passwordHash: user.passwordHash,
    isActive: user.isActive,
    isStaff: user.isStaff,
    isSuperuser: user.isSuperuser,
    permissions: user.permissions,
  };
}
