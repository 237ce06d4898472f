import { WRITES_FEED, type InMemoryRevocationLog } from './revocation-feed.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

/** Revoked token ids in this process only: tests, demos, single-instance apps. */
export class InMemoryRevocationStore implements RevocationStore {
  private readonly rows = new Map<string, { expiresAt: Date; revokedAt: Date }>();
  readonly [WRITES_FEED]: boolean;

  /** `log`: the change feed shared with the session and cut-off stores of the same set. */
  constructor(private readonly log?: InMemoryRevocationLog) {
    this[WRITES_FEED] = log !== undefined;
  }

  async revoke(jti: string, expiresAt: Date): Promise<void> {
    const held = this.rows.get(jti);
    // Idempotent, and a second revoke never shortens how long the entry is kept.
    this.rows.set(jti, {
      expiresAt: held && held.expiresAt > expiresAt ? held.expiresAt : expiresAt,
      revokedAt: held?.revokedAt ?? new Date(),
    });
    this.log?.append('jti', jti, expiresAt);
  }

  async isRevoked(jti: string): Promise<boolean> {
    return this.rows.has(jti);
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    let purged = 0;
    for (const [jti, row] of this.rows) {
      if (row.expiresAt <= now) {
        this.rows.delete(jti);
        purged++;
      }
    }
    this.log?.purge('jti', now);
    return purged;
  }

  async revokedSince(since: Date): Promise<Array<{ jti: string; expiresAt: Date; revokedAt: Date }>> {
    const found: Array<{ jti: string; expiresAt: Date; revokedAt: Date }> = [];
    for (const [jti, row] of this.rows) if (row.revokedAt >= since) found.push({ jti, ...row });
    return found;
  }
}

/** Per-user cut-offs in this process only. */
export class InMemoryUserCutoffStore implements UserCutoffStore {
  private readonly rows = new Map<string, { at: Date; updatedAt: Date }>();
  readonly [WRITES_FEED]: boolean;

  constructor(private readonly log?: InMemoryRevocationLog) {
    this[WRITES_FEED] = log !== undefined;
  }

  async set(userId: string, at: Date): Promise<void> {
    const held = this.rows.get(userId);
    if (!held || held.at < at) {
      this.rows.set(userId, { at, updatedAt: new Date() });
      this.log?.append('cutoff', userId, at);
    }
  }

  async get(userId: string): Promise<Date | null> {
    return this.rows.get(userId)?.at ?? null;
  }

  async since(since: Date): Promise<Array<{ userId: string; at: Date }>> {
    const found: Array<{ userId: string; at: Date }> = [];
    for (const [userId, row] of this.rows) if (row.updatedAt >= since) found.push({ userId, at: row.at });
    return found;
  }

  async purgeOlderThan(before: Date): Promise<number> {
    let purged = 0;
    for (const [userId, row] of this.rows) {
      if (row.at < before) {
        this.rows.delete(userId);
        purged++;
      }
    }
    this.log?.purge('cutoff', before);
    return purged;
  }
}
