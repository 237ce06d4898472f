import { Logger } from '@nestjs/common';
import type { AuthStores } from '../store/auth-stores.js';

export type RevocationVerdict = 'token_revoked' | 'auth_unavailable' | null;

export interface RevocationGateOptions {
  consistency: 'cached' | 'strict';
  syncIntervalMs: number;
  /** Seconds: an ended session stays refused this long (its access tokens' life). */
  accessTokenTtl: number;
  /** Seconds: the longest any token lives; a cut-off older than this can no longer matter. */
  maxTokenLifetime: number;
}

/** Polls read from this far before the previous poll: rows written with a slightly late clock or committed late are not missed. */
const POLL_OVERLAP_MS = 5_000;
/** Purge of expired rows, in every instance. */
const PURGE_INTERVAL_MS = 60_000;

/**
 * The revocation check of every authenticated request.
 *
 * `cached`: revoked token ids, ended sessions and user cut-offs live in
 * memory, written through on this instance and polled from the store every
 * `syncIntervalMs`, so a check is a few Map/Set look-ups and no I/O. If no
 * poll has succeeded for 3 × `syncIntervalMs` (at least 3 s) the gate fails
 * closed: every check answers `auth_unavailable` until the store answers again.
 *
 * `strict`: every check asks the store.
 */
export class RevocationGate {
  /** jti -> expiry (ms) */
  private readonly revoked = new Map<string, number>();
  /** sid -> when it can be forgotten (ms) */
  private readonly ended = new Map<string, number>();
  /** userId -> cut-off in whole seconds */
  private readonly cutoffs = new Map<string, number>();
  private lastPollStart = 0;
  private lastSuccess = 0;
  private readonly staleAfterMs: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly logger = new Logger('RevocationGate');

  constructor(
    private readonly stores: AuthStores,
    private readonly options: RevocationGateOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.staleAfterMs = Math.max(3 * options.syncIntervalMs, 3_000);
  }

  /** Loads what is still relevant and starts polling. Throws (so the boot fails) if the store cannot be read. */
  async start(): Promise<void> {
    if (this.options.consistency === 'cached') {
      await this.poll(new Date(0));
      this.pollTimer = setInterval(() => void this.pollQuietly(), this.options.syncIntervalMs);
      this.pollTimer.unref();
    }
    this.purgeTimer = setInterval(() => void this.purgeExpired().catch(() => undefined), PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.pollTimer);
    clearInterval(this.purgeTimer);
  }

  /** `cached` mode: synchronous, no I/O. */
  checkCached(jti: string, sid: string | undefined, userId: string, iat: number): RevocationVerdict {
    if (this.clock() - this.lastSuccess > this.staleAfterMs) return 'auth_unavailable';
    return this.checkMemory(jti, sid, userId, iat);
  }

  /** The check of the configured mode: synchronous in `cached` mode (no promise on the hot path), a promise in `strict`. */
  check(claims: { jti: string; sid?: string; sub: string; iat: number }): RevocationVerdict | Promise<RevocationVerdict> {
    return this.options.consistency === 'strict'
      ? this.checkStrict(claims.jti, claims.sid, claims.sub, claims.iat)
      : this.checkCached(claims.jti, claims.sid, claims.sub, claims.iat);
  }

  /** `strict` mode: asks the stores (and this instance's memory, which is always at least as fresh for its own writes). */
  async checkStrict(jti: string, sid: string | undefined, userId: string, iat: number): Promise<RevocationVerdict> {
    if (this.checkMemory(jti, sid, userId, iat) !== null) return 'token_revoked';
    try {
      const [isRevoked, session, cutoff] = await Promise.all([
        this.stores.revocations.isRevoked(jti),
        sid === undefined ? null : this.stores.sessions.find(sid),
        this.stores.cutoffs.get(userId),
      ]);
      if (isRevoked || (session !== null && session.endedAt !== null)) return 'token_revoked';
      if (cutoff !== null && cutBy(Math.floor(cutoff.getTime() / 1000), sid, iat)) return 'token_revoked';
      return null;
    } catch (err) {
      this.logger.error(`revocation store unreadable: ${err instanceof Error ? err.message : String(err)}`);
      return 'auth_unavailable';
    }
  }

  async revokeJti(jti: string, expiresAt: Date, meta?: { userId?: string; reason?: string }): Promise<void> {
    await this.stores.revocations.revoke(jti, expiresAt, meta);
    this.revoked.set(jti, Math.max(expiresAt.getTime(), this.revoked.get(jti) ?? 0));
  }

  /** After the session store ended `sid`: this instance refuses its tokens at once. */
  noteSessionEnded(sid: string): void {
    this.ended.set(sid, this.clock() + this.options.accessTokenTtl * 1000);
  }

  async cutOffUser(userId: string, at: Date): Promise<void> {
    await this.stores.cutoffs.set(userId, at);
    this.noteCutoff(userId, at);
  }

  /** Deletes rows whose tokens have all expired, in the stores and in memory. */
  async purgeExpired(now: Date = new Date()): Promise<number> {
    const nowMs = now.getTime();
    const sessionHorizon = new Date(nowMs - this.options.accessTokenTtl * 1000);
    const cutoffHorizon = new Date(nowMs - this.options.maxTokenLifetime * 1000);
    const counts = await Promise.all([
      this.stores.revocations.purgeExpired(now),
      this.stores.sessions.purgeEndedBefore(sessionHorizon),
      this.stores.cutoffs.purgeOlderThan(cutoffHorizon),
    ]);
    for (const [jti, exp] of this.revoked) if (exp <= nowMs) this.revoked.delete(jti);
    for (const [sid, until] of this.ended) if (until <= nowMs) this.ended.delete(sid);
    const cutoffHorizonSec = Math.floor(cutoffHorizon.getTime() / 1000);
    for (const [userId, at] of this.cutoffs) if (at < cutoffHorizonSec) this.cutoffs.delete(userId);
    return counts[0] + counts[1] + counts[2];
  }

  private checkMemory(jti: string, sid: string | undefined, userId: string, iat: number): RevocationVerdict {
    if (this.revoked.has(jti)) return 'token_revoked';
    if (sid !== undefined && this.ended.has(sid)) return 'token_revoked';
    const cutoff = this.cutoffs.get(userId);
    if (cutoff !== undefined && cutBy(cutoff, sid, iat)) return 'token_revoked';
    return null;
  }

  private noteCutoff(userId: string, at: Date): void {
    const seconds = Math.floor(at.getTime() / 1000);
    if ((this.cutoffs.get(userId) ?? -Infinity) < seconds) this.cutoffs.set(userId, seconds);
  }

  private async pollQuietly(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.poll(new Date(this.lastPollStart - POLL_OVERLAP_MS));
    } catch (err) {
      this.logger.warn(`revocation poll failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.polling = false;
    }
  }

  private async poll(since: Date): Promise<void> {
    const start = this.clock();
    const [revoked, ended, cutoffs] = await Promise.all([
      this.stores.revocations.revokedSince ? this.stores.revocations.revokedSince(since) : Promise.resolve([]),
      this.stores.sessions.endedSince(since),
      this.stores.cutoffs.since(since),
    ]);
    for (const r of revoked) this.revoked.set(r.jti, Math.max(r.expiresAt.getTime(), this.revoked.get(r.jti) ?? 0));
    const keepUntil = start + this.options.accessTokenTtl * 1000;
    for (const s of ended) if (!this.ended.has(s.id)) this.ended.set(s.id, Math.max(keepUntil, s.endedAt.getTime() + this.options.accessTokenTtl * 1000));
    for (const c of cutoffs) this.noteCutoff(c.userId, c.at);
    this.lastPollStart = start;
    this.lastSuccess = start;
  }
}

/**
 * A cut-off refuses every token issued before it. `iat` has whole seconds:
 * a session token of the cut-off's own second is left to its session (ended
 * by the same call); a token without a session is refused for that whole
 * second, so a token issued just before the call cannot slip through.
 */
function cutBy(cutoffSeconds: number, sid: string | undefined, iat: number): boolean {
  return sid !== undefined ? iat < cutoffSeconds : iat <= cutoffSeconds;
}
