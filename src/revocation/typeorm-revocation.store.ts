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
import type { LedgerWrite, RevocationLedger, SessionEnds, TokenRevocation } from './revocation-ledger.js';
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
    await inTransaction(this.dataSource, (m) => this.revokeWith(m, { jti, expiresAt, meta }));
  }

  /** The revocation and its change-log row, written by `m` (the ledger's transaction, or this store's own). */
  async revokeWith(m: EntityManager, { jti, expiresAt, meta = {} }: TokenRevocation): Promise<void> {
    const { LessThan } = await typeorm();
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
    await inTransaction(this.dataSource, (m) => this.setWith(m, userId, at));
  }

  /** The cut-off and its change-log row, written by `m`. */
  async setWith(m: EntityManager, userId: string, at: Date): Promise<void> {
    const { LessThan } = await typeorm();
    const now = new Date(this.clock());
    const repo = m.getRepository(UserCutoffEntity);
    await repo.createQueryBuilder().insert().values({ userId, cutoffAt: at, updatedAt: now }).orIgnore().execute();
    // Only ever moves forward, so two instances racing cannot reopen older tokens.
    await repo.update({ userId, cutoffAt: LessThan(at) }, { cutoffAt: at, updatedAt: now });
    await appendChanges(m, 'cutoff', [userId], at);
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

/** The session store of the same DataSource, ending sessions in a transaction the ledger opened. */
export interface TransactionalSessionEnds extends SessionEnds {
  within(m: EntityManager): Pick<SessionEnds, 'end' | 'endAllForUser'>;
}

/**
 * The revocation ledger of the TypeORM stores: each operation is one transaction that writes the change and its
 * change-log rows together. A connection cut half-way commits nothing; the caller gets 503 and its retry does
 * the whole operation. `customRevocations`: an app's own revocation store beside the TypeORM sessions and
 * cut-offs; it is written after the transaction and read by its own time-based feed, as before.
 */
export class TypeOrmRevocationLedger implements RevocationLedger {
  constructor(
    private readonly dataSource: DataSource,
    private readonly revocations: TypeOrmRevocationStore,
    private readonly sessions: TransactionalSessionEnds,
    private readonly cutoffs: TypeOrmUserCutoffStore,
    private readonly customRevocations?: RevocationStore,
  ) {}

  async revokeToken(token: TokenRevocation): Promise<void> {
    if (this.customRevocations) return this.customRevocations.revoke(token.jti, token.expiresAt, token.meta);
    await inTransaction(this.dataSource, (m) => this.revocations.revokeWith(m, token));
  }

  async endSession(sid: string, now: Date, reason: string, orToken?: TokenRevocation): Promise<LedgerWrite> {
    const custom = this.customRevocations;
    const write = await inTransaction(this.dataSource, async (m): Promise<LedgerWrite> => {
      if (await this.sessions.within(m).end(sid, now, reason)) {
        await appendChanges(m, 'session', [sid], now);
        return { endedSession: sid };
      }
      if (!orToken || custom) return {};
      await this.revocations.revokeWith(m, orToken);
      return { revokedJti: orToken.jti };
    });
    if (write.endedSession === undefined && orToken && custom) {
      await custom.revoke(orToken.jti, orToken.expiresAt, orToken.meta);
      return { revokedJti: orToken.jti };
    }
    return write;
  }

  cutOffUser(userId: string, at: Date, reason: string): Promise<string[]> {
    return inTransaction(this.dataSource, async (m) => {
      await this.cutoffs.setWith(m, userId, at);
      const ended = await this.sessions.within(m).endAllForUser(userId, at, reason);
      await appendChanges(m, 'session', ended, at);
      return ended;
    });
  }

  async purgeExpired(now: Date, sessionsBefore: Date, cutoffsBefore: Date): Promise<number> {
    const counts = await Promise.all([
      (this.customRevocations ?? this.revocations).purgeExpired(now),
      purgeChanges(this.dataSource, 'session', sessionsBefore).then(() => this.sessions.purgeEndedBefore(sessionsBefore)),
      this.cutoffs.purgeOlderThan(cutoffsBefore),
    ]);
    return counts[0] + counts[1] + counts[2];
  }
}
