import type { AuthStores } from '../store/create-stores.js';

export class RevocationGate {
  private readonly jtis = new Map<string, number>();
  private readonly ended = new Set<string>();
  private readonly cutoffs = new Map<string, number>();
  private lastOk = 0; private lastPoll = 0; private timer?: NodeJS.Timeout;
  constructor(private readonly stores: AuthStores, private readonly opts: { consistency: 'cached' | 'strict'; syncIntervalMs: number; accessTokenTtl: number; maxTokenLifetime: number }, private readonly clock = () => Date.now()) {}
  async start() { await this.poll(new Date(0)); if (this.opts.consistency === 'cached') { this.timer = setInterval(() => void this.poll(new Date(this.lastPoll - 5000)).catch(() => undefined), this.opts.syncIntervalMs); this.timer.unref(); } }
  async stop() { if (this.timer) clearInterval(this.timer); }
  private async poll(since: Date) {
    const start = this.clock();
    const [r, e, c] = await Promise.all([this.stores.revocations.revokedSince?.(since) ?? [], this.stores.sessions.endedSince(since), this.stores.cutoffs.since(since)]);
    for (const x of r) this.jtis.set(x.jti, x.expiresAt.getTime());
    for (const x of e) this.ended.add(x.id);
    for (const x of c) this.cutoffs.set(x.userId, Math.floor(x.at.getTime() / 1000));
    this.lastPoll = start; this.lastOk = start;
  }
  checkCached(jti: string, sid: string | undefined, userId: string, iat: number): 'token_revoked' | 'auth_unavailable' | null {
    if (this.opts.consistency === 'cached' && this.clock() - this.lastOk > 3 * this.opts.syncIntervalMs + 1000) return 'auth_unavailable';
    if (this.jtis.has(jti) || (sid !== undefined && this.ended.has(sid))) return 'token_revoked';
    const cut = this.cutoffs.get(userId);
    if (cut !== undefined && (sid !== undefined ? iat < cut : iat <= cut)) return 'token_revoked';
    return null;
  }
  async checkStrict(jti: string, sid: string | undefined, userId: string, iat: number) {
    try {
      if (this.jtis.has(jti) || await this.stores.revocations.isRevoked(jti)) return 'token_revoked' as const;
      if (sid !== undefined) { const s = await this.stores.sessions.find(sid); if (s && s.endedAt) return 'token_revoked' as const; }
      const at = await this.stores.cutoffs.get(userId);
      if (at) { const cut = Math.floor(at.getTime() / 1000); if (sid !== undefined ? iat < cut : iat <= cut) return 'token_revoked' as const; }
      return null;
    } catch { return 'auth_unavailable' as const; }
  }
  async revokeJti(jti: string, expiresAt: Date, meta?: { userId?: string; reason?: string }) { await this.stores.revocations.revoke(jti, expiresAt, meta); this.jtis.set(jti, expiresAt.getTime()); }
  noteSessionEnded(sid: string) { this.ended.add(sid); }
  async cutOffUser(userId: string, at: Date) { await this.stores.cutoffs.set(userId, at); const s = Math.floor(at.getTime() / 1000); if ((this.cutoffs.get(userId) ?? -1) < s) this.cutoffs.set(userId, s); }
  async purgeExpired(now = new Date()) { return this.stores.revocations.purgeExpired(now); }
}
