import type { NewSession, SessionRecord, SessionStore } from './session-store.js';

export class InMemorySessionStore implements SessionStore {
  private readonly rows = new Map<string, SessionRecord & { endReason?: string }>();
  private readonly rotations = new Map<string, Date>();
  async create(s: NewSession) { this.rows.set(s.id, { ...s, lastUsedAt: s.createdAt, endedAt: null }); }
  async find(id: string) { const r = this.rows.get(id); return r ? { ...r } : null; }
  async rotate(id: string, from: string, to: string, now: Date, expiresAt?: Date) {
    const r = this.rows.get(id);
    if (!r || r.endedAt !== null || r.expiresAt <= now || r.currentJti !== from) return false;
    r.currentJti = to; r.lastUsedAt = now; if (expiresAt) r.expiresAt = expiresAt;
    this.rotations.set(`${id} ${from}`, now); return true;
  }
  async rotatedOutAt(id: string, jti: string) { return this.rotations.get(`${id} ${jti}`) ?? null; }
  async end(id: string, now: Date, reason: string) { const r = this.rows.get(id); if (!r || r.endedAt) return false; r.endedAt = now; r.endReason = reason; return true; }
  async endAllForUser(userId: string, now: Date, reason: string) { const ids: string[] = []; for (const r of this.rows.values()) if (r.userId === userId && !r.endedAt) { r.endedAt = now; r.endReason = reason; ids.push(r.id); } return ids; }
  async listForUser(userId: string, now: Date) { return [...this.rows.values()].filter((r) => r.userId === userId && !r.endedAt && r.expiresAt > now).sort((a, b) => +b.createdAt - +a.createdAt).map((r) => ({ ...r })); }
  async endedSince(since: Date) { return [...this.rows.values()].filter((r) => r.endedAt && r.endedAt >= since).map((r) => ({ id: r.id, endedAt: r.endedAt! })); }
  async purgeEndedBefore(before: Date) { let n = 0; for (const [k, r] of this.rows) if ((r.endedAt && r.endedAt < before) || r.expiresAt < before) { this.rows.delete(k); n++; } return n; }
}
