import type { CacheEntries } from '../persistence/cache-entries.js';
import type { NewSession, SessionRecord, SessionStore } from './session-store.js';

/**
 * Sessions kept by another store (this instance's memory) whose END is also written to the cache: the gate reads
 * `sessions.find(sid)` per request, and an instance that never saw the session learns from the cache that it ended.
 * A session known only by its end comes back as a record with `endedAt` set (refresh and the gate both refuse it).
 */
export class CacheEndedSessionStore implements SessionStore {
  constructor(
    private readonly inner: SessionStore,
    private readonly entries: CacheEntries,
    private readonly keepMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  private async markEnded(id: string, userId: string, now: Date): Promise<void> {
    await this.entries.set(`ses:${id}`, { userId, endedAt: now.getTime() }, this.keepMs + now.getTime() - this.clock());
  }

  create(session: NewSession): Promise<void> {
    return this.inner.create(session);
  }

  async find(id: string): Promise<SessionRecord | null> {
    const [local, ended] = await Promise.all([this.inner.find(id), this.entries.get(`ses:${id}`)]);
    const mark = ended as { userId?: string; endedAt?: number } | undefined;
    if (mark === undefined || typeof mark.endedAt !== 'number') return local;
    const endedAt = new Date(mark.endedAt);
    if (local) return local.endedAt ? local : { ...local, endedAt };
    return { id, userId: mark.userId ?? '', currentJti: '', createdAt: endedAt, lastUsedAt: endedAt, expiresAt: endedAt, endedAt };
  }

  rotate(id: string, fromJti: string, toJti: string, now: Date, expiresAt?: Date): Promise<boolean> {
    return this.inner.rotate(id, fromJti, toJti, now, expiresAt);
  }

  rotatedOutAt(id: string, jti: string): Promise<Date | null> {
    return this.inner.rotatedOutAt(id, jti);
  }

  async end(id: string, now: Date, reason: string): Promise<boolean> {
    const record = await this.inner.find(id);
    const ended = await this.inner.end(id, now, reason);
    // Written even when this instance did not hold the session: the caller asked for it to end everywhere.
    await this.markEnded(id, record?.userId ?? '', now);
    return ended;
  }

  async endAllForUser(userId: string, now: Date, reason: string): Promise<string[]> {
    const ids = await this.inner.endAllForUser(userId, now, reason);
    await Promise.all(ids.map((id) => this.markEnded(id, userId, now)));
    return ids;
  }

  listForUser(userId: string, now: Date): Promise<SessionRecord[]> {
    return this.inner.listForUser(userId, now);
  }

  endedSince(since: Date): Promise<Array<{ id: string; endedAt: Date }>> {
    return this.inner.endedSince(since);
  }

  purgeEndedBefore(before: Date): Promise<number> {
    return this.inner.purgeEndedBefore(before);
  }
}
