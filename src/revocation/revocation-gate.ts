import { Logger } from '@nestjs/common';
import { AuthError } from '../errors/auth-error.js';
import { DEFAULT_STORE_TIMEOUT_MS, reasonOf, withTimeout } from '../persistence/bounded-store.js';
import type { SessionEnds } from './revocation-ledger.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

export type RevocationVerdict = 'token_revoked' | 'auth_unavailable' | null;

/** The claims the gate decides on. */
export interface RevocationClaims {
  jti: string;
  sid?: string;
  sub: string;
  iat: number;
}

/** The stores a `strict` check reads (read at each call: they are resolved when the module initialises). */
export interface VerdictStores {
  revocations: Pick<RevocationStore, 'isRevoked'>;
  sessions: Pick<SessionEnds, 'find'>;
  cutoffs: Pick<UserCutoffStore, 'get'>;
}

export interface RevocationGateOptions {
  consistency: 'cached' | 'strict';
  syncIntervalMs: number;
  /** Seconds: an ended session stays refused this long (its access tokens' life). */
  accessTokenTtl: number;
  /** The longest any store call may take [2000]. */
  storeTimeoutMs?: number;
}

/**
 * The revocation check of every authenticated request: the verdict, and the
 * memory it is given from. What keeps that memory in step with the store is
 * `RevocationSync`; what writes is `RevocationWriter`. Both tell the gate what
 * they learnt through the `note*` methods.
 *
 * `cached`: revoked token ids, ended sessions and user cut-offs live in
 * memory; a check is a few Map look-ups, synchronous. If no poll has succeeded
 * for 3 × `syncIntervalMs` (at least 3 s), it fails closed: every check answers
 * `auth_unavailable` until a poll succeeds again (`synced`).
 *
 * `strict`: every check asks the store, bounded by `storeTimeoutMs`.
 */
export class RevocationGate {
  /** jti -> expiry (ms) */
  private readonly revoked = new Map<string, number>();
  /** sid -> when it can be forgotten (ms) */
  private readonly ended = new Map<string, number>();
  /** userId -> cut-off in whole seconds */
  private readonly cutoffs = new Map<string, number>();
  private lastSuccess = Number.NEGATIVE_INFINITY;
  private readonly staleAfterMs: number;
  private readonly timeoutMs: number;
  private strictFailing = false;
  private readonly listeners = new Set<() => void>();
  private notifyPending = false;
  private readonly logger = new Logger('RevocationGate');

  constructor(
    private readonly stores: VerdictStores,
    private readonly options: RevocationGateOptions,
    /** What freshness is measured on (the stale bound): monotonic time in the module, the test's clock in unit specs. */
    private readonly elapsed: () => number = Date.now,
  ) {
    this.staleAfterMs = Math.max(3 * options.syncIntervalMs, 3_000);
    this.timeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  }

  get mode(): 'cached' | 'strict' {
    return this.options.consistency;
  }

  /**
   * The verdict for a verified token, in the configured mode: a value in
   * `cached` mode (no promise, no I/O on the hot path), a promise in `strict`.
   */
  check(claims: RevocationClaims): RevocationVerdict | Promise<RevocationVerdict> {
    return this.options.consistency === 'strict' ? this.checkStrictClaims(claims) : this.checkCachedClaims(claims);
  }

  /** Asks the store whatever the mode: for rare calls that must not trust a cache (a refresh). */
  checkInStore(claims: RevocationClaims): Promise<RevocationVerdict> {
    return this.checkStrictClaims(claims);
  }

  private checkCachedClaims(c: RevocationClaims): RevocationVerdict {
    // Only a successful read of the store proves freshness: a live channel says nothing about what the store holds.
    if (this.elapsed() - this.lastSuccess > this.staleAfterMs) return 'auth_unavailable';
    return this.checkMemory(c);
  }

  /** `strict`: asks the stores (and this instance's memory, which is always at least as fresh for its own writes). */
  private async checkStrictClaims(c: RevocationClaims): Promise<RevocationVerdict> {
    if (this.checkMemory(c) !== null) return 'token_revoked';
    try {
      const [isRevoked, session, cutoff] = await withTimeout(
        Promise.all([
          this.stores.revocations.isRevoked(c.jti),
          c.sid === undefined ? null : this.stores.sessions.find(c.sid),
          this.stores.cutoffs.get(c.sub),
        ]),
        this.timeoutMs,
      );
      this.strictFailing = false;
      if (isRevoked || (session !== null && session.endedAt !== null)) return 'token_revoked';
      if (cutoff !== null && cutBy(Math.floor(cutoff.getTime() / 1000), c.sid, c.iat)) return 'token_revoked';
      return null;
    } catch (err) {
      this.logFailure('strict check', err);
      return 'auth_unavailable';
    }
  }

  private checkMemory(c: RevocationClaims): RevocationVerdict {
    if (this.revoked.has(c.jti)) return 'token_revoked';
    if (c.sid !== undefined && this.ended.has(c.sid)) return 'token_revoked';
    const cutoff = this.cutoffs.get(c.sub);
    if (cutoff !== undefined && cutBy(cutoff, c.sid, c.iat)) return 'token_revoked';
    return null;
  }

  /** Logs once per outage; a bounded store has logged the cause already. */
  private logFailure(what: string, err: unknown): void {
    if (this.strictFailing) return;
    this.strictFailing = true;
    if (reasonOf(err) === 'store_timeout') this.logger.error(`${what}: the store did not answer within ${this.timeoutMs} ms`);
    else if (!(err instanceof AuthError))
      this.logger.error(`${what}: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200)}`);
  }

  /**
   * Calls `listener` (at most once per tick) after the gate learnt of a
   * revocation, an ended session or a cut-off, from this instance, a poll or
   * the channel: live connections are checked again then, not per message.
   * Returns the function that removes it.
   */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    if (this.notifyPending || this.listeners.size === 0) return;
    this.notifyPending = true;
    queueMicrotask(() => {
      this.notifyPending = false;
      for (const listener of this.listeners) listener();
    });
  }

  // ---- what the sync and the writer tell the gate ---------------------------

  /** A read of the store that began at `startedAt` (elapsed time) succeeded: the memory is fresh as of then. */
  synced(startedAt: number): void {
    this.lastSuccess = Math.max(this.lastSuccess, startedAt);
  }

  noteRevoked(jti: string, expiresAtMs: number): void {
    if (!this.revoked.has(jti)) this.changed();
    this.revoked.set(jti, Math.max(expiresAtMs, this.revoked.get(jti) ?? 0));
  }

  /** Kept for an access token's life from when this gate learnt of it (`learntAt`, ms): the writer's clock does not matter. */
  noteEnded(sid: string, learntAt: number): void {
    const until = learntAt + this.options.accessTokenTtl * 1000;
    if (!this.ended.has(sid)) this.changed();
    if ((this.ended.get(sid) ?? 0) < until) this.ended.set(sid, until);
  }

  noteCutoff(userId: string, atMs: number): void {
    const seconds = Math.floor(atMs / 1000);
    if ((this.cutoffs.get(userId) ?? -Infinity) < seconds) {
      this.cutoffs.set(userId, seconds);
      this.changed();
    }
  }

  /** Forgets what no token can need any more: revocations expired at `nowMs`, session ends past their keep, cut-offs before the horizon. */
  forgetExpired(nowMs: number, cutoffHorizonMs: number): void {
    for (const [jti, exp] of this.revoked) if (exp <= nowMs) this.revoked.delete(jti);
    for (const [sid, until] of this.ended) if (until <= nowMs) this.ended.delete(sid);
    const cutoffHorizonSec = Math.floor(cutoffHorizonMs / 1000);
    for (const [userId, at] of this.cutoffs) if (at < cutoffHorizonSec) this.cutoffs.delete(userId);
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
