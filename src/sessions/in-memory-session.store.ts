import type { NewSession, SessionRecord, SessionStore } from './session-store.js';

interface MemorySession extends SessionRecord {
  endReason?: string;
  /** Refresh token ids rotated out of this session, with when. */
  rotations: Map<string, Date>;
}

/** Sessions in this process only: tests, demos, single-instance apps. */
export class InMemorySessionStore implements SessionStore {
  private readonly rows = new Map<string, MemorySession>();

  async create(s: NewSession): Promise<void> {
    this.rows.set(s.id, { ...s, lastUsedAt: s.createdAt, endedAt: null, rotations: new Map() });
  }

  async find(id: string): Promise<SessionRecord | null> {
    const row = this.rows.get(id);
    return row ? recordOf(row) : null;
  }

  async rotate(id: string, fromJti: string, toJti: string, now: Date, expiresAt?: Date): Promise<boolean> {
    // Synchronous from check to write: no other call can interleave, so exactly one caller wins.
    const row = this.rows.get(id);
    if (!row || row.endedAt !== null || row.expiresAt <= now || row.currentJti !== fromJti) return false;
    row.currentJti = toJti;
    row.lastUsedAt = now;
    if (expiresAt) row.expiresAt = expiresAt;
    row.rotations.set(fromJti, now);
    return true;
  }

  async rotatedOutAt(id: string, jti: string): Promise<Date | null> {
    return this.rows.get(id)?.rotations.get(jti) ?? null;
  }

  async end(id: string, now: Date, reason: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || row.endedAt !== null) return false;
    row.endedAt = now;
    row.endReason = reason;
    return true;
  }

  async endAllForUser(userId: string, now: Date, reason: string): Promise<string[]> {
    const ended: string[] = [];
    for (const row of this.rows.values()) {
      if (row.userId === userId && row.endedAt === null) {
        row.endedAt = now;
        row.endReason = reason;
        ended.push(row.id);
      }
    }
    return ended;
  }

  async listForUser(userId: string, now: Date): Promise<SessionRecord[]> {
    return [...this.rows.values()]
      .filter((r) => r.userId === userId && r.endedAt === null && r.expiresAt > now)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map(recordOf);
  }

  async endedSince(since: Date): Promise<Array<{ id: string; endedAt: Date }>> {
    const ended: Array<{ id: string; endedAt: Date }> = [];
    for (const row of this.rows.values()) if (row.endedAt !== null && row.endedAt >= since) ended.push({ id: row.id, endedAt: row.endedAt });
    return ended;
  }

  async purgeEndedBefore(before: Date): Promise<number> {
    let purged = 0;
    for (const [id, row] of this.rows) {
      if ((row.endedAt !== null && row.endedAt < before) || row.expiresAt < before) {
        this.rows.delete(id);
        purged++;
      }
    }
    return purged;
  }
}

function recordOf({ rotations: _rotations, endReason: _endReason, ...record }: MemorySession): SessionRecord {
  return { ...record };
}
