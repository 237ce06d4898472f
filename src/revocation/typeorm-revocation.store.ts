import type { DataSource, EntityManager, Repository } from 'typeorm';
import { exclusive, inTransaction } from '../persistence/transactions.js';
import { typeorm } from '../persistence/typeorm-runtime.js';
import {
  RevocationLogEntity,
  RevokedTokenEntity,
  UserCutoffEntity,
  type RevocationChangeKind,
  type RevocationLogRow,
  type RevokedTokenRow,
  type UserCutoffRow,
} from './revocation.entities.js';
import { WRITES_FEED, type RevocationChange, type RevocationFeed } from './revocation-feed.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

/** Revoked token ids in the app's database: every instance that shares it sees them. */
export class TypeOrmRevocationStore implements RevocationStore {
  readonly [WRITES_FEED] = true;
  private readonly repo: Repository<RevokedTokenRow>;

  /** `clock`: this instance's wall clock, for the `revoked_at` it records (never used to decide what others see). */
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: () => number = Date.now,
  ) {
    this.repo = dataSource.getRepository(RevokedTokenEntity);
  }

  async revoke(jti: string, expiresAt: Date, meta: { userId?: string; reason?: string } = {}): Promise<void> {
    const { LessThan } = await typeorm();
    await inTransaction(this.dataSource, async (m) => {
      const repo = m.getRepository(RevokedTokenEntity);
      // Idempotent: a second revoke of the same id never shortens how long it is kept.
      await repo
        .createQueryBuilder()
        .insert()
        .values({ jti, expiresAt, revokedAt: new Date(this.clock()), userId: meta.userId ?? null, reason: meta.reason?.slice(0, 32) ?? null })
        .orIgnore()
        .execute();
      await repo.update({ jti, expiresAt: LessThan(expiresAt) }, { expiresAt });
      await appendChanges(m, 'jti', [jti], expiresAt);
    });
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.repo.count({ where: { jti } })) > 0;
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    const { LessThan } = await typeorm();
    const result = await exclusive(this.dataSource, () => this.repo.delete({ expiresAt: LessThan(now) }));
    await purgeChanges(this.dataSource, 'jti', now);
    return result.affected ?? 0;
  }

  /** Time-based feed, kept for custom setups; the gate reads `TypeOrmRevocationFeed` instead. */
  async revokedSince(since: Date): Promise<Array<{ jti: string; expiresAt: Date; revokedAt: Date }>> {
    const { MoreThanOrEqual } = await typeorm();
    return this.repo.find({ select: { jti: true, expiresAt: true, revokedAt: true }, where: { revokedAt: MoreThanOrEqual(since) } });
  }
}

/** Per-user cut-offs ("log out everywhere") in the app's database. */
export class TypeOrmUserCutoffStore implements UserCutoffStore {
  readonly [WRITES_FEED] = true;
  private readonly repo: Repository<UserCutoffRow>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: () => number = Date.now,
  ) {
    this.repo = dataSource.getRepository(UserCutoffEntity);
  }

  async set(userId: string, at: Date): Promise<void> {
    const { LessThan } = await typeorm();
    const now = new Date(this.clock());
    await inTransaction(this.dataSource, async (m) => {
      const repo = m.getRepository(UserCutoffEntity);
      await repo.createQueryBuilder().insert().values({ userId, cutoffAt: at, updatedAt: now }).orIgnore().execute();
      // Only ever moves forward, so two instances racing cannot reopen older tokens.
      await repo.update({ userId, cutoffAt: LessThan(at) }, { cutoffAt: at, updatedAt: now });
      await appendChanges(m, 'cutoff', [userId], at);
    });
  }

  async get(userId: string): Promise<Date | null> {
    return (await this.repo.findOne({ where: { userId } }))?.cutoffAt ?? null;
  }

  async since(since: Date): Promise<Array<{ userId: string; at: Date }>> {
    const { MoreThanOrEqual } = await typeorm();
    const rows = await this.repo.find({ where: { updatedAt: MoreThanOrEqual(since) } });
    return rows.map((r) => ({ userId: r.userId, at: r.cutoffAt }));
  }

  async purgeOlderThan(before: Date): Promise<number> {
    const { LessThan } = await typeorm();
    const affected = (await exclusive(this.dataSource, () => this.repo.delete({ cutoffAt: LessThan(before) }))).affected ?? 0;
    await purgeChanges(this.dataSource, 'cutoff', before);
    return affected;
  }
}

/** The change log of one DataSource, as the gate reads it. */
export class TypeOrmRevocationFeed implements RevocationFeed {
  private readonly repo: Repository<RevocationLogRow>;

  constructor(dataSource: DataSource) {
    this.repo = dataSource.getRepository(RevocationLogEntity);
  }

  async changesAfter(after: number, limit: number): Promise<RevocationChange[]> {
    const { MoreThan } = await typeorm();
    return this.repo.find({ where: { seq: MoreThan(after) }, order: { seq: 'ASC' }, take: limit });
  }
}

/** Writes change-log rows inside the caller's transaction: they commit with the change or not at all. */
export async function appendChanges(m: EntityManager, kind: RevocationChangeKind, subjects: readonly string[], at: Date): Promise<void> {
  if (subjects.length === 0) return;
  await m.getRepository(RevocationLogEntity).insert(subjects.map((subject) => ({ kind, subject, at })));
}

/**
 * Deletes change-log rows of `kind` older than `before`, always keeping the
 * newest row: MySQL before 8.0 recomputes AUTO_INCREMENT from MAX(seq) on a
 * restart, and an emptied table would hand out numbers the gates have passed.
 */
export async function purgeChanges(dataSource: DataSource, kind: RevocationChangeKind, before: Date): Promise<void> {
  const { LessThan } = await typeorm();
  const repo = dataSource.getRepository(RevocationLogEntity);
  const newest = await repo.find({ select: { seq: true }, order: { seq: 'DESC' }, take: 1 });
  if (newest.length === 0) return;
  await exclusive(dataSource, () => repo.delete({ kind, at: LessThan(before), seq: LessThan(newest[0]!.seq) }));
}
