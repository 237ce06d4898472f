import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import type { SessionStore } from '../sessions/session-store.js';
import { DEFAULT_STORE_TIMEOUT_MS, reasonOf, withTimeout } from '../persistence/bounded-store.js';
import type { RevocationChannel, RevocationEvent } from './revocation-channel.js';
import { writesFeed, type RevocationChange, type RevocationFeed } from './revocation-feed.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

export type RevocationVerdict = 'token_revoked' | 'auth_unavailable' | null;

/** The claims the gate decides on. */
export interface RevocationClaims {
  jti: string;
  sid?: string;
  sub: string;
  iat: number;
}

/** The stores the gate reads. `feed`, when present, is the clock-independent change log of the same set. */
export interface GateStores {
  revocations: RevocationStore;
  sessions: SessionStore;
  cutoffs: UserCutoffStore;
  feed?: RevocationFeed;
}

export interface RevocationGateOptions {
  consistency: 'cached' | 'strict';
  syncIntervalMs: number;
  /** Seconds: an ended session stays refused this long (its access tokens' life). */
  accessTokenTtl: number;
  /** Seconds: the longest any token lives; a cut-off older than this can no longer matter. */
  maxTokenLifetime: number;
  /** The longest any store call may take [2000]. */
  storeTimeoutMs?: number;
  /**
   * Deprecated, ignored: the gate polls every `syncIntervalMs` whatever its
   * channel's state, since a revocation must reach it within `syncIntervalMs +
   * storeTimeoutMs` even when the writer's channel is down (#21).
   */
  channelSyncIntervalMs?: number;
  /** Push channel for `cached` mode (#16). */
  channel?: RevocationChannel;
}

/** Legacy time-based polls read from this far before the previous poll (custom stores without a feed only). */
const POLL_OVERLAP_MS = 5_000;
/** Purge of expired rows, in every instance. */
const PURGE_INTERVAL_MS = 60_000;
/** Rows per feed read; a poll reads on until a short page. */
const FEED_PAGE = 1000;
/** A missing seq this far below the newest seen is counted as a gap (a transaction that may still commit). */
const MAX_GAP_SPAN = 1000;
/**
 * Reads caused by channel hints draw on a bucket of HINT_BURST, refilled one per HINT_REFILL_MS: a
 * normal rate of revocations is read at once, a flood of messages costs at most 40 reads a second.
 */
const HINT_BURST = 10;
const HINT_REFILL_MS = 25;

/**
 * The revocation check of every authenticated request.
 *
 * `cached`: revoked token ids, ended sessions and user cut-offs live in
 * memory, written through on this instance and read from the store's change
 * log: every `syncIntervalMs`, and at once when the channel (if any) hints
 * that another instance wrote. A channel message is never applied as state:
 * anyone who can reach the channel's server can publish on it (a database
 * role with only CONNECT can `pg_notify`), so it only makes the gate read the
 * store sooner, and the gate keeps nothing per message. A check is a few Map
 * look-ups, synchronous. If no poll has succeeded for 3 × `syncIntervalMs` (at
 * least 3 s), it fails closed: every check answers `auth_unavailable` until a
 * poll succeeds again.
 *
 * `strict`: every check asks the store, bounded by `storeTimeoutMs`.
 *
 * Polls read the feed by `seq > cursor`: numbers the database assigns, so no
 * writer's wall clock takes part. On PostgreSQL and MariaDB a transaction can
 * commit after one that took a higher seq; a seq skipped by a poll is kept as a
 * gap and re-read (the poll starts below the oldest open gap) for
 * `gapWindowMs` of this gate's own clock, after which it is taken for a
 * rollback. Applying a change twice is harmless.
 */
export class RevocationGate {
  /** jti -> expiry (ms) */
  private readonly revoked = new Map<string, number>();
  /** sid -> when it can be forgotten (ms) */
  private readonly ended = new Map<string, number>();
  /** userId -> cut-off in whole seconds */
  private readonly cutoffs = new Map<string, number>();
  /** Highest feed seq applied. */
  private cursor = 0;
  /** Feed seqs skipped by the cursor -> when first missed (gate clock). */
  private readonly gaps = new Map<number, number>();
  private lastPollStart = 0;
  private lastSuccess = Number.NEGATIVE_INFINITY;
  private channelUp = false;
  private readonly staleAfterMs: number;
  private readonly timeoutMs: number;
  private readonly gapWindowMs: number;
  /** A hint is waiting for its poll (at most one: more hints before it starts add nothing). */
  private hintPending = false;
  private hintTokens = HINT_BURST;
  private hintRefilledAt = Number.NEGATIVE_INFINITY;
  /** A publish failed and no publish has succeeded since: logged once per outage. */
  private publishFailing = false;
  /** When the last poll began (elapsed time): the next scheduled one starts syncIntervalMs after it. */
  private lastPollStartedAt = Number.NEGATIVE_INFINITY;
  private hintTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  /** Generation of the poll in flight: a poll cut off by the timeout cannot apply its late result. */
  private pollGeneration = 0;
  private stopped = false;
  private strictFailing = false;
  private readonly instanceId = randomUUID();
  private readonly logger = new Logger('RevocationGate');
  private readonly listeners = new Set<() => void>();
  private notifyPending = false;

  constructor(
    private readonly stores: GateStores,
    private readonly options: RevocationGateOptions,
    private readonly clock: () => number = Date.now,
    /** What freshness is measured on (the stale bound): monotonic time in the module, the test's clock in unit specs. */
    private readonly elapsed: () => number = clock,
  ) {
    this.staleAfterMs = Math.max(3 * options.syncIntervalMs, 3_000);
    this.timeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    this.gapWindowMs = Math.max(30_000, 5 * this.timeoutMs);
  }

  /** The push channel, known only once the stores are resolved (it may need their DataSource). Before `start()`. */
  attachChannel(channel: RevocationChannel | undefined): void {
    this.options.channel = channel;
  }

  get mode(): 'cached' | 'strict' {
    return this.options.consistency;
  }

  /** Whether a push channel currently counts as alive (for health pages and tests). */
  get channelAlive(): boolean {
    return this.channelUp;
  }

  /** Loads what is still relevant and starts polling. Throws (so the boot fails) if the store cannot be read in time. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.options.consistency === 'cached') {
      await this.runPoll(true);
      if (this.options.channel) await this.startChannel(this.options.channel);
      this.schedulePoll();
    }
    this.purgeTimer = setInterval(() => void this.purgeExpired().catch(() => undefined), PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.hintTimer);
    this.hintPending = false;
    clearInterval(this.purgeTimer);
    this.pollGeneration++;
    await this.options.channel?.stop().catch(() => undefined);
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

  /** Records a revoked token id in the store, then here, then on the channel. Rejects with `auth_unavailable` if the store fails. */
  async revokeJti(jti: string, expiresAt: Date, meta?: { userId?: string; reason?: string }): Promise<void> {
    await this.call(() => this.stores.revocations.revoke(jti, expiresAt, meta));
    this.noteRevoked(jti, expiresAt.getTime());
    this.publish({ kind: 'jti', subject: jti, at: expiresAt.getTime() });
  }

  /** After the session store ended `sid`: this instance refuses its tokens at once, and tells the others. */
  noteSessionEnded(sid: string): void {
    const now = this.clock();
    this.noteEnded(sid, now);
    this.publish({ kind: 'session', subject: sid, at: now });
  }

  async cutOffUser(userId: string, at: Date): Promise<void> {
    await this.call(() => this.stores.cutoffs.set(userId, at));
    this.noteCutoff(userId, at.getTime());
    this.publish({ kind: 'cutoff', subject: userId, at: at.getTime() });
  }

  /** Deletes rows whose tokens have all expired, in the stores and in memory. */
  async purgeExpired(now: Date = new Date(this.clock())): Promise<number> {
    const nowMs = now.getTime();
    const sessionHorizon = new Date(nowMs - this.options.accessTokenTtl * 1000);
    const cutoffHorizon = new Date(nowMs - this.options.maxTokenLifetime * 1000);
    const counts = await this.call(() =>
      Promise.all([
        this.stores.revocations.purgeExpired(now),
        this.stores.sessions.purgeEndedBefore(sessionHorizon),
        this.stores.cutoffs.purgeOlderThan(cutoffHorizon),
      ]),
    );
    for (const [jti, exp] of this.revoked) if (exp <= nowMs) this.revoked.delete(jti);
    for (const [sid, until] of this.ended) if (until <= nowMs) this.ended.delete(sid);
    const cutoffHorizonSec = Math.floor(cutoffHorizon.getTime() / 1000);
    for (const [userId, at] of this.cutoffs) if (at < cutoffHorizonSec) this.cutoffs.delete(userId);
    return counts[0] + counts[1] + counts[2];
  }

  /** Runs one poll now (tests, and after the channel comes back). Resolves when it settled; never rejects. */
  syncNow(): Promise<boolean> {
    return this.runPoll(false);
  }

  private checkCachedClaims(c: RevocationClaims): RevocationVerdict {
    if (!this.fresh(this.elapsed())) return 'auth_unavailable';
    return this.checkMemory(c);
  }

  /** Only a successful read of the store proves freshness: a live channel says nothing about what the store holds. */
  private fresh(now: number): boolean {
    return now - this.lastSuccess <= this.staleAfterMs;
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

  /** A store call bounded by the timeout; any failure becomes `auth_unavailable`. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(Promise.resolve().then(work), this.timeoutMs);
    } catch (err) {
      if (err instanceof AuthError) throw err;
      this.logger.error(`revocation store write failed: ${messageOf(err)}`);
      throw new AuthError('auth_unavailable', 'store_failed');
    }
  }

  /** Logs once per outage; a bounded store has logged the cause already. */
  private logFailure(what: string, err: unknown): void {
    if (this.strictFailing) return;
    this.strictFailing = true;
    if (reasonOf(err) === 'store_timeout') this.logger.error(`${what}: the store did not answer within ${this.timeoutMs} ms`);
    else if (!(err instanceof AuthError)) this.logger.error(`${what}: ${messageOf(err)}`);
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

  private noteRevoked(jti: string, expiresAtMs: number): void {
    if (!this.revoked.has(jti)) this.changed();
    this.revoked.set(jti, Math.max(expiresAtMs, this.revoked.get(jti) ?? 0));
  }

  /** Kept for an access token's life from when this gate learnt of it: the writer's clock does not matter. */
  private noteEnded(sid: string, learntAt: number): void {
    const until = learntAt + this.options.accessTokenTtl * 1000;
    if (!this.ended.has(sid)) this.changed();
    if ((this.ended.get(sid) ?? 0) < until) this.ended.set(sid, until);
  }

  private noteCutoff(userId: string, atMs: number): void {
    const seconds = Math.floor(atMs / 1000);
    if ((this.cutoffs.get(userId) ?? -Infinity) < seconds) {
      this.cutoffs.set(userId, seconds);
      this.changed();
    }
  }

  private apply(kind: RevocationChange['kind'], subject: string, atMs: number, now: number): void {
    if (kind === 'jti') this.noteRevoked(subject, atMs);
    else if (kind === 'session') this.noteEnded(subject, now);
    else this.noteCutoff(subject, atMs);
  }

  // ---- polling -------------------------------------------------------------

  private schedulePoll(): void {
    if (this.stopped) return;
    clearTimeout(this.pollTimer);
    // Every syncIntervalMs, channel or not: a writer whose channel is down cannot tell anyone, so
    // only the poll bounds how late its revocation arrives. Timed from the start of the last poll
    // (not its end): a write committed after a poll began is read by a poll that starts at most
    // syncIntervalMs later and settles within storeTimeoutMs, however long the one before took.
    const interval = this.options.syncIntervalMs;
    const delay = Math.min(interval, Math.max(0, this.lastPollStartedAt + interval - this.elapsed()));
    this.pollTimer = setTimeout(
      () => {
        void this.runPoll(false)
          .catch(() => false)
          .finally(() => this.schedulePoll());
      },
      Number.isFinite(delay) ? delay : interval,
    );
    this.pollTimer.unref();
  }

  /**
   * One poll, bounded by the store timeout: if it has not settled by then it
   * counts as failed, the in-flight flag is cleared and its late result is
   * dropped, so a hung connection cannot stall the gate.
   */
  private runPoll(initial: boolean): Promise<boolean> {
    if (this.inFlight && !initial) return this.inFlight;
    const run = this.pollOnce(initial);
    this.inFlight = run;
    const clear = () => {
      if (this.inFlight === run) this.inFlight = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  private async pollOnce(initial: boolean): Promise<boolean> {
    const generation = ++this.pollGeneration;
    const start = this.clock();
    const startElapsed = this.elapsed();
    this.lastPollStartedAt = startElapsed;
    try {
      const result = await withTimeout(this.readChanges(), this.timeoutMs);
      if (generation !== this.pollGeneration) return false;
      result.applyTo(this, start);
      this.lastPollStart = start;
      this.lastSuccess = Math.max(this.lastSuccess, startElapsed);
      if (this.pollFailing) {
        this.pollFailing = false;
        this.logger.log('revocation poll succeeds again');
      }
      return true;
    } catch (err) {
      // Whatever the hung call does later, it belongs to a poll that is over.
      if (generation === this.pollGeneration) this.pollGeneration++;
      if (initial) throw err instanceof AuthError ? err : new AuthError('auth_unavailable', 'store_failed');
      if (!this.pollFailing) {
        this.pollFailing = true;
        this.logger.warn(`revocation poll failed: ${reasonOf(err) === 'store_timeout' ? `no answer within ${this.timeoutMs} ms` : messageOf(err)}`);
      }
      return false;
    }
  }

  private inFlight: Promise<boolean> | undefined;
  private pollFailing = false;

  /** Reads without touching the gate's state: the caller applies the result only if the poll is still current. */
  private async readChanges(): Promise<{ applyTo(gate: RevocationGate, now: number): void }> {
    const feed = this.stores.feed;
    const legacySince = new Date(this.lastPollStart === 0 ? 0 : this.lastPollStart - POLL_OVERLAP_MS);
    if (!feed) {
      const [revoked, ended, cutoffs] = await Promise.all([
        this.stores.revocations.revokedSince ? this.stores.revocations.revokedSince(legacySince) : Promise.resolve([]),
        this.stores.sessions.endedSince(legacySince),
        this.stores.cutoffs.since(legacySince),
      ]);
      return {
        applyTo(gate, now) {
          for (const r of revoked) gate.noteRevoked(r.jti, r.expiresAt.getTime());
          for (const s of ended) gate.noteEnded(s.id, now);
          for (const c of cutoffs) gate.noteCutoff(c.userId, c.at.getTime());
        },
      };
    }
    // A custom revocation store beside the feed: its own (time-based) feed, as before.
    const customRevocations = !writesFeed(this.stores.revocations) && this.stores.revocations.revokedSince;
    const [changes, custom] = await Promise.all([
      this.readFeed(feed),
      customRevocations ? this.stores.revocations.revokedSince!(legacySince) : Promise.resolve([]),
    ]);
    return {
      applyTo(gate, now) {
        gate.advance(changes, now);
        for (const r of custom) gate.noteRevoked(r.jti, r.expiresAt.getTime());
      },
    };
  }

  private async readFeed(feed: RevocationFeed): Promise<RevocationChange[]> {
    let after = this.gaps.size > 0 ? Math.min(this.cursor, Math.min(...this.gaps.keys()) - 1) : this.cursor;
    const all: RevocationChange[] = [];
    for (;;) {
      const page = await feed.changesAfter(after, FEED_PAGE);
      all.push(...page);
      if (page.length < FEED_PAGE) return all;
      after = page[page.length - 1]!.seq;
    }
  }

  /** Applies feed rows in seq order, moving the cursor and keeping track of seqs it skipped. */
  private advance(changes: readonly RevocationChange[], now: number): void {
    for (const c of changes) {
      this.apply(c.kind, c.subject, c.at.getTime(), now);
      if (c.seq > this.cursor) {
        // Skipped numbers near the top may be transactions still in flight; deeper ones are purged rows or rollbacks.
        const from = Math.max(this.cursor + 1, c.seq - MAX_GAP_SPAN);
        for (let s = from; s < c.seq; s++) if (!this.gaps.has(s)) this.gaps.set(s, now);
        this.cursor = c.seq;
      } else {
        this.gaps.delete(c.seq);
      }
    }
    for (const [seq, since] of this.gaps) if (now - since > this.gapWindowMs || this.cursor - seq > MAX_GAP_SPAN) this.gaps.delete(seq);
  }

  // ---- channel -------------------------------------------------------------

  private async startChannel(channel: RevocationChannel): Promise<void> {
    await channel.start(
      {
        event: (e) => this.onChannelEvent(e),
        alive: () => {
          const wasUp = this.channelUp;
          this.channelUp = true;
          // Back after an outage: what was published meanwhile is lost; the poll finds it now.
          if (!wasUp && !this.stopped)
            void this.runPoll(false)
              .catch(() => false)
              .finally(() => this.schedulePoll());
        },
        down: (reason) => {
          if (!this.channelUp) return;
          this.channelUp = false;
          this.logger.warn(`revocation channel ${channel.name} down (${reason}): polling every ${this.options.syncIntervalMs} ms`);
          if (!this.stopped)
            void this.runPoll(false)
              .catch(() => false)
              .finally(() => this.schedulePoll());
        },
      },
      { heartbeatMs: this.options.syncIntervalMs, timeoutMs: this.timeoutMs },
    );
  }

  /**
   * A message on the channel is a hint that another instance wrote: read the
   * store now. Its content is not trusted (kind, subject and date could be
   * anyone's); only the origin is used, to skip this instance's own echo (a
   * forged origin can only skip an extra read of a change nobody made).
   */
  private onChannelEvent(e: RevocationEvent): void {
    if (e.origin === this.instanceId) return;
    this.hint();
  }

  /**
   * Runs a poll that starts after the hint arrived: a poll already in flight
   * may have read before the hinted write committed, so it is waited for,
   * then one more runs. Hints that arrive before that poll starts share it.
   */
  private hint(): void {
    if (this.stopped || this.hintPending || this.options.consistency !== 'cached') return;
    this.hintPending = true;
    const go = async (): Promise<void> => {
      if (this.inFlight) await this.inFlight.catch(() => false);
      if (this.stopped) return;
      this.hintPending = false;
      await this.runPoll(false);
    };
    const now = this.elapsed();
    this.hintTokens = Math.min(HINT_BURST, this.hintTokens + Math.max(0, now - this.hintRefilledAt) / HINT_REFILL_MS);
    this.hintRefilledAt = now;
    // The token is taken now for a read that starts now or once the bucket has one again.
    const wait = this.hintTokens >= 1 ? 0 : (1 - this.hintTokens) * HINT_REFILL_MS;
    this.hintTokens -= 1;
    if (wait === 0) {
      void go().catch(() => undefined);
      return;
    }
    clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => void go().catch(() => undefined), wait);
    this.hintTimer.unref();
  }

  private publish(e: Omit<RevocationEvent, 'origin'>): void {
    const channel = this.options.channel;
    if (!channel) return;
    // After the write committed; a lost message is caught by the next poll.
    void withTimeout(channel.publish({ ...e, origin: this.instanceId }), this.timeoutMs).then(
      () => {
        if (!this.publishFailing) return;
        this.publishFailing = false;
        this.logger.log(`revocation channel ${channel.name}: publishing again`);
      },
      (err: unknown) => {
        // Once per outage: a writer cut off from its channel would otherwise log every revocation.
        if (this.publishFailing) return;
        this.publishFailing = true;
        this.logger.warn(
          `revocation channel ${channel.name}: publish failed (${reasonOf(err) ?? messageOf(err)}); other instances learn of this instance's writes from their polls (within syncIntervalMs + storeTimeoutMs)`,
        );
      },
    );
  }
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).split('\n')[0]!.slice(0, 200);
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
