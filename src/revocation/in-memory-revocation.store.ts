import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

export class InMemoryRevocationStore implements RevocationStore {
  private readonly rows = new Map<string, { expiresAt: Date; revokedAt: Date }>();
  async revoke(jti: string, expiresAt: Date): Promise<void> {
    const old = this.rows.get(jti);
    this.rows.set(jti, { expiresAt: old && old.expiresAt > expiresAt ? old.expiresAt : expiresAt, revokedAt: old?.revokedAt ?? new Date() });
  }
  async isRevoked(jti: string): Promise<boolean> { return this.rows.has(jti); }
  async purgeExpired(now = new Date()): Promise<number> {
    let n = 0; for (const [k, v] of this.rows) if (v.expiresAt <= now) { this.rows.delete(k); n++; } return n;
  }
  async revokedSince(since: Date) {
    return [...this.rows].filter(([, v]) => v.revokedAt >= since).map(([jti, v]) => ({ jti, ...v }));
  }
}
export class InMemoryUserCutoffStore implements UserCutoffStore {
  private readonly rows = new Map<string, Date>();
  async set(userId: string, at: Date) { const old = this.rows.get(userId); if (!old || old < at) this.rows.set(userId, at); }
  async get(userId: string) { return this.rows.get(userId) ?? null; }
  async since(since: Date) { return [...this.rows].filter(([, at]) => at >= since).map(([userId, at]) => ({ userId, at })); }
  async purgeOlderThan(before: Date) { let n = 0; for (const [k, v] of this.rows) if (v < before) { this.rows.delete(k); n++; } return n; }
}
