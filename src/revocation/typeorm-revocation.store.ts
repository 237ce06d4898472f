import { LessThan, MoreThanOrEqual, type DataSource, type Repository } from 'typeorm';
import { RevokedTokenEntity, UserCutoffEntity, type RevokedTokenRow, type UserCutoffRow } from './revocation.entities.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

/** Revoked token ids in the app's database: every instance that shares it sees them. */
export class TypeOrmRevocationStore implements RevocationStore {
  private readonly repo: Repository<RevokedTokenRow>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(RevokedTokenEntity);
  }

  async revoke(jti: string, expiresAt: Date, meta: { userId?: string; reason?: string } = {}): Promise<void> {
    // Idempotent: a second revoke of the same id never shortens how long it is kept.
    await this.repo
      .createQueryBuilder()
      .insert()
      .values({ jti, expiresAt, revokedAt: new Date(), userId: meta.userId ?? null, reason: meta.reason?.slice(0, 32) ?? null })
      .orIgnore()
      .execute();
    await this.repo.update({ jti, expiresAt: LessThan(expiresAt) }, { expiresAt });
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.repo.count({ where: { jti } })) > 0;
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    const result = await this.repo.delete({ expiresAt: LessThan(now) });
    return result.affected ?? 0;
  }

  async revokedSince(since: Date): Promise<Array<{ jti: string; expiresAt: Date; revokedAt: Date }>> {
    return this.repo.find({ select: { jti: true, expiresAt: true, revokedAt: true }, where: { revokedAt: MoreThanOrEqual(since) } });
  }
}

/** Per-user cut-offs ("log out everywhere") in the app's database. */
export class TypeOrmUserCutoffStore implements UserCutoffStore {
  private readonly repo: Repository<UserCutoffRow>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(UserCutoffEntity);
  }

  async set(userId: string, at: Date): Promise<void> {
    const now = new Date();
    await this.repo.createQueryBuilder().insert().values({ userId, cutoffAt: at, updatedAt: now }).orIgnore().execute();
    // Only ever moves forward, so two instances racing cannot reopen older tokens.
    await this.repo.update({ userId, cutoffAt: LessThan(at) }, { cutoffAt: at, updatedAt: now });
  }

  async get(userId: string): Promise<Date | null> {
    return (await this.repo.findOne({ where: { userId } }))?.cutoffAt ?? null;
  }

  async since(since: Date): Promise<Array<{ userId: string; at: Date }>> {
    const rows = await this.repo.find({ where: { updatedAt: MoreThanOrEqual(since) } });
    return rows.map((r) => ({ userId: r.userId, at: r.cutoffAt }));
  }

  async purgeOlderThan(before: Date): Promise<number> {
    return (await this.repo.delete({ cutoffAt: LessThan(before) })).affected ?? 0;
  }
}
