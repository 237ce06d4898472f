import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import { DEFAULT_STORE_TIMEOUT_MS, reasonOf, withTimeout } from '../persistence/bounded-store.js';
import type { RevocationGate } from './revocation-gate.js';
import type { RevocationChannel, RevocationEvent } from './revocation-channel.js';
import { writesFeed, type RevocationChange, type RevocationFeed } from './revocation-feed.js';
import { revocationStoreCall, type RevocationLedger, type SessionEnds } from './revocation-ledger.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

/**
 * The stores the sync reads (at each poll: they are resolved when the module initialises). `feed`, when present,
 * is the clock-independent change log of the set; `ledger` purges.
 */
export interface SyncStores {
  revocations: RevocationStore;
  sessions: Pick<SessionEnds, 'endedSince'>;
  cutoffs: UserCutoffStore;
  feed?: RevocationFeed;
  ledger: Pick<RevocationLedger, 'purgeExpired'>;
}

export interface RevocationSyncOptions {
  consistency: 'cached' | 'strict';
  syncIntervalMs: number;
  /** Seconds: an ended session stays refused this long (its access tokens' life). */
  accessTokenTtl: number;
  /** Seconds: the longest any token lives; a cut-off older than this can no longer matter. */
  maxTokenLifetime: number;
  /** The longest any store call may take [2000]. */
  storeTimeoutMs?: number;
  /**
   * Deprecated, ignored: the sync polls every `syncIntervalMs` whatever its
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
 * Keeps the gate's memory in step with the store, off the hot path: the polls
 * of the change log, the push channel (its liveness, its hints, this
 * instance's publishes), and the purge of expired rows.
 *
 * The gate learns from the store's change log: every `syncIntervalMs`, and at
 * once when the channel (if any) hints that another instance wrote. A channel
 * message is never applied as state: anyone who can reach the channel's server
 * can publish on it (a database role with only CONNECT can `pg_notify`), so it
 * only makes the sync read the store sooner, and nothing is kept per message.
 *
 * Polls read the feed by `seq > cursor`: numbers the database assigns, so no
 * writer's wall clock takes part. On PostgreSQL and MariaDB a transaction can
 * commit after one that took a higher seq; a seq skipped by a poll is kept as a
 * gap and re-read (the poll starts below the oldest open gap) for
 * `gapWindowMs` of this instance's own clock, after which it is taken for a
 * rollback. Applying a change twice is harmless.
 */
export class RevocationSync {
  /** Highest feed seq applied. */
  private cursor = 0;
  /** Feed seqs skipped by the cursor -> when first missed (module clock). */
  private readonly gaps = new Map<number, number>();
  private lastPollStart = 0;
  private channelUp = false;
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
  private inFlight: Promise<boolean> | undefined;
  private pollFailing = false;
  private stopped = false;
  private readonly instanceId = randomUUID();
  private readonly logger = new Logger('RevocationGate');

  constructor(
    private readonly stores: SyncStores,
    private readonly gate: RevocationGate,
    private readonly options: RevocationSyncOptions,
    private readonly clock: () => number = Date.now,
    /** What freshness is measured on: monotonic time in the module, the test's clock in unit specs. */
    private readonly elapsed: () => number = clock,
  ) {
    this.timeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    this.gapWindowMs = Math.max(30_000, 5 * this.timeoutMs);
  }

  /** The push channel, known only once the stores are resolved (it may need their DataSource). Before `start()`. */
  attachChannel(channel: RevocationChannel | undefined): void {
    this.options.channel = channel;
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

  /** Deletes rows whose tokens have all expired, in the stores and in the gate's memory. */
  async purgeExpired(now: Date = new Date(this.clock())): Promise<number> {
    const nowMs = now.getTime();
    const sessionHorizon = new Date(nowMs - this.options.accessTokenTtl * 1000);
    const cutoffHorizon = new Date(nowMs - this.options.maxTokenLifetime * 1000);
    const purged = await revocationStoreCall(() => this.stores.ledger.purgeExpired(now, sessionHorizon, cutoffHorizon), this.timeoutMs);
    this.gate.forgetExpired(nowMs, cutoffHorizon.getTime());
    return purged;
  }

  /** Runs one poll now (tests, and after the channel comes back). Resolves when it settled; never rejects. */
  syncNow(): Promise<boolean> {
    return this.runPoll(false);
  }

  /**
   * Tells the other instances, after this instance's write committed, that
   * they should read the store now. Never waits and never fails the write: a
   * lost message is caught by their next poll.
   */
  publish(e: Omit<RevocationEvent, 'origin'>): void {
    const channel = this.options.channel;
    if (!channel) return;
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
   * dropped, so a hung connection cannot stall the sync.
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
      const apply = await withTimeout(this.readChanges(), this.timeoutMs);
      if (generation !== this.pollGeneration) return false;
      apply(start);
      this.lastPollStart = start;
      this.gate.synced(startElapsed);
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

  /** Reads without touching any state: the caller applies the result only if the poll is still current. */
  private async readChanges(): Promise<(now: number) => void> {
    const { feed, revocations, sessions, cutoffs } = this.stores;
    const gate = this.gate;
    const legacySince = new Date(this.lastPollStart === 0 ? 0 : this.lastPollStart - POLL_OVERLAP_MS);
    if (!feed) {
      const [revoked, ended, cut] = await Promise.all([
        revocations.revokedSince ? revocations.revokedSince(legacySince) : Promise.resolve([]),
        sessions.endedSince(legacySince),
        cutoffs.since(legacySince),
      ]);
      return (now) => {
        for (const r of revoked) gate.noteRevoked(r.jti, r.expiresAt.getTime());
        for (const s of ended) gate.noteEnded(s.id, now);
        for (const c of cut) gate.noteCutoff(c.userId, c.at.getTime());
      };
    }
    // A custom revocation store beside the feed: its own (time-based) feed, as before.
    const customRevocations = !writesFeed(revocations) && revocations.revokedSince;
    const [changes, custom] = await Promise.all([
      this.readFeed(feed),
      customRevocations ? revocations.revokedSince!(legacySince) : Promise.resolve([]),
    ]);
    return (now) => {
      this.advance(changes, now);
      for (const r of custom) gate.noteRevoked(r.jti, r.expiresAt.getTime());
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
      if (c.kind === 'jti') this.gate.noteRevoked(c.subject, c.at.getTime());
      else if (c.kind === 'session') this.gate.noteEnded(c.subject, now);
      else this.gate.noteCutoff(c.subject, c.at.getTime());
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
    const pollNow = () => {
      if (!this.stopped)
        void this.runPoll(false)
          .catch(() => false)
          .finally(() => this.schedulePoll());
    };
    await channel.start(
      {
        event: (e) => this.onChannelEvent(e),
        alive: () => {
          const wasUp = this.channelUp;
          this.channelUp = true;
          // Back after an outage: what was published meanwhile is lost; the poll finds it now.
          if (!wasUp) pollNow();
        },
        down: (reason) => {
          if (!this.channelUp) return;
          this.channelUp = false;
          this.logger.warn(`revocation channel ${channel.name} down (${reason}): polling every ${this.options.syncIntervalMs} ms`);
          pollNow();
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
}

export function messageOf(err: unknown): string {
  return (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).split('\n')[0]!.slice(0, 200);
}
