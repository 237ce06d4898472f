import { In, IsNull, LessThan, MoreThan, MoreThanOrEqual, type DataSource, type EntityManager, type Repository } from 'typeorm';
import { exclusive, inTransaction } from '../persistence/transactions.js';
import { SessionEntity, SessionRotationEntity, type SessionRotationRow, type SessionRow } from './session.entity.js';
import type { NewSession, SessionRecord, SessionStore } from './session-store.js';

/** Ending sessions inside a transaction someone else opened (see `within`). */
export interface SessionEndWrites {
  end(id: string, now: Date, reason: string): Promise<boolean>;
  endAllForUser(userId: string, now: Date, reason: string): Promise<string[]>;
}

/**
 * Sessions in the app's database. It stores sessions and nothing else: the
 * change log other instances poll is the revocation writer's, which ends
 * sessions through `within(manager)` in the transaction that writes its row.
 */
export class TypeOrmSessionStore implements SessionStore {
  private readonly sessions: Repository<SessionRow>;
  private readonly rotations: Repository<SessionRotationRow>;

  constructor(private readonly dataSource: DataSource) {
    this.sessions = dataSource.getRepository(SessionEntity);
    this.rotations = dataSource.getRepository(SessionRotationEntity);
  }

  async create(s: NewSession): Promise<void> {
    await exclusive(this.dataSource, () => this.insertSession(s));
  }

  private async insertSession(s: NewSession): Promise<void> {
    await this.sessions.insert({
      id: s.id,
      userId: s.userId,
      currentJti: s.currentJti,
      createdAt: s.createdAt,
      lastUsedAt: s.createdAt,
      expiresAt: s.expiresAt,
      endedAt: null,
      endReason: null,
      userAgent: s.userAgent ?? null,
      ip: s.ip ?? null,
    });
  }

  async find(id: string): Promise<SessionRecord | null> {
    const row = await this.sessions.findOne({ where: { id } });
    return row ? recordOf(row) : null;
  }

  async rotate(id: string, fromJti: string, toJti: string, now: Date, expiresAt?: Date): Promise<boolean> {
    // One conditional UPDATE: the database decides which of concurrent callers wins. The rotated-out id is recorded
    // in the same transaction: a store that fails between the two leaves the session as it was, so the caller's
    // retry with the same refresh token rotates it (instead of being taken for reuse of an unrecorded token).
    return inTransaction(this.dataSource, async (m) => {
      const result = await m
        .getRepository(SessionEntity)
        .update(
          { id, currentJti: fromJti, endedAt: IsNull(), expiresAt: MoreThan(now) },
          { currentJti: toJti, lastUsedAt: now, ...(expiresAt ? { expiresAt } : {}) },
        );
      if (result.affected !== 1) return false;
      await m.getRepository(SessionRotationEntity).insert({ sessionId: id, jti: fromJti, rotatedAt: now });
      return true;
    });
  }

  async rotatedOutAt(id: string, jti: string): Promise<Date | null> {
    return (await this.rotations.findOne({ where: { sessionId: id, jti } }))?.rotatedAt ?? null;
  }

  async end(id: string, now: Date, reason: string): Promise<boolean> {
    return inTransaction(this.dataSource, (m) => this.within(m).end(id, now, reason));
  }

  async endAllForUser(userId: string, now: Date, reason: string): Promise<string[]> {
    return inTransaction(this.dataSource, (m) => this.within(m).endAllForUser(userId, now, reason));
  }

  /** The session ends, written by `m`: they commit (or roll back) with whatever else its transaction writes. */
  within(m: EntityManager): SessionEndWrites {
    const repo = m.getRepository(SessionEntity);
    return {
      async end(id, now, reason) {
        return (await repo.update({ id, endedAt: IsNull() }, { endedAt: now, endReason: reason.slice(0, 32) })).affected === 1;
      },
      async endAllForUser(userId, now, reason) {
        const live = await repo.find({ select: { id: true }, where: { userId, endedAt: IsNull() } });
        if (live.length === 0) return [];
        const ids = live.map((s) => s.id);
        await repo.update({ id: In(ids), endedAt: IsNull() }, { endedAt: now, endReason: reason.slice(0, 32) });
        return ids;
      },
    };
  }

  async listForUser(userId: string, now: Date): Promise<SessionRecord[]> {
    const rows = await this.sessions.find({
      where: { userId, endedAt: IsNull(), expiresAt: MoreThan(now) },
      order: { createdAt: 'DESC' },
    });
    return rows.map(recordOf);
  }

  async endedSince(since: Date): Promise<Array<{ id: string; endedAt: Date }>> {
    const rows = await this.sessions.find({ select: { id: true, endedAt: true }, where: { endedAt: MoreThanOrEqual(since) } });
    return rows.map((r) => ({ id: r.id, endedAt: r.endedAt! }));
  }

  async purgeEndedBefore(before: Date): Promise<number> {
    const doomed = await this.sessions.find({
      select: { id: true },
      where: [{ endedAt: LessThan(before) }, { expiresAt: LessThan(before) }],
    });
    if (doomed.length === 0) return 0;
    const ids = doomed.map((s) => s.id);
    return exclusive(this.dataSource, async () => {
      await this.rotations.delete({ sessionId: In(ids) });
      return (await this.sessions.delete({ id: In(ids) })).affected ?? ids.length;
    });
  }
}

function recordOf(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.userId,
    currentJti: row.currentJti,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    expiresAt: row.expiresAt,
    endedAt: row.endedAt,
    ...(row.userAgent ? { userAgent: row.userAgent } : {}),
    ...(row.ip ? { ip: row.ip } : {}),
  };
}
