import { In, IsNull, LessThan, MoreThan, MoreThanOrEqual, type DataSource, type Repository } from 'typeorm';
import { exclusive, inTransaction } from '../persistence/transactions.js';
import { WRITES_FEED } from '../revocation/revocation-feed.js';
import { appendChanges, purgeChanges } from '../revocation/typeorm-revocation.store.js';
import { SessionEntity, SessionRotationEntity, type SessionRotationRow, type SessionRow } from './session.entity.js';
import type { NewSession, SessionRecord, SessionStore } from './session-store.js';

/** Sessions in the app's database. */
export class TypeOrmSessionStore implements SessionStore {
  readonly [WRITES_FEED] = true;
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
    return inTransaction(this.dataSource, async (m) => {
      const result = await m.getRepository(SessionEntity).update({ id, endedAt: IsNull() }, { endedAt: now, endReason: reason.slice(0, 32) });
      if (result.affected !== 1) return false;
      await appendChanges(m, 'session', [id], now);
      return true;
    });
  }

  async endAllForUser(userId: string, now: Date, reason: string): Promise<string[]> {
    const live = await this.sessions.find({ select: { id: true }, where: { userId, endedAt: IsNull() } });
    if (live.length === 0) return [];
    const ids = live.map((s) => s.id);
    await inTransaction(this.dataSource, async (m) => {
      await m.getRepository(SessionEntity).update({ id: In(ids), endedAt: IsNull() }, { endedAt: now, endReason: reason.slice(0, 32) });
      await appendChanges(m, 'session', ids, now);
    });
    return ids;
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
    await purgeChanges(this.dataSource, 'session', before);
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
