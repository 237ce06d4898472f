import { Logger } from '@nestjs/common';
import { AuthError } from '../errors/auth-error.js';
import { withTimeout } from '../persistence/bounded-store.js';
import type { RevocationChangeKind } from './revocation.entities.js';
import type { RevocationStore, UserCutoffStore } from './revocation-store.js';

/**
 * What revocation needs of the session store: whether a session ended, and ending sessions. Declared here, on
 * revocation's side, so that revocation/ never imports sessions/ (every `SessionStore` has these methods).
 */
export interface SessionEnds {
  find(id: string): Promise<{ endedAt: Date | null } | null>;
  /** Ends a live session; true if this call ended it. */
  end(id: string, now: Date, reason: string): Promise<boolean>;
  /** Ends every live session of the user; the ids it ended. */
  endAllForUser(userId: string, now: Date, reason: string): Promise<string[]>;
  /** Sessions ended after `since` (the time-based poll of a set without a change log). */
  endedSince(since: Date): Promise<Array<{ id: string; endedAt: Date }>>;
  purgeEndedBefore(before: Date): Promise<number>;
}

/** A token id to refuse until `expiresAt`, with what the row records. */
export interface TokenRevocation {
  jti: string;
  expiresAt: Date;
  meta?: { userId?: string; reason?: string };
}

/** What one write of the ledger changed: what the instance notes in memory and tells the others. */
export interface LedgerWrite {
  /** The session ended by this write, if any. */
  endedSession?: string;
  /** The token id revoked by this write, if any. */
  revokedJti?: string;
}

/**
 * The store side of the revocation writer: each method is ONE write (one transaction where the store has them)
 * that commits the change together with its change-log rows, so a write cut half-way leaves nothing behind and
 * the caller's retry does all of it.
 */
export interface RevocationLedger {
  revokeToken(token: TokenRevocation): Promise<void>;
  /**
   * Ends the live session `sid`. When no live session was ended by it (unknown, or ended before) and `orToken` is
   * given, that token is revoked instead: whoever asked for it to stop working gets that, in one write either way.
   */
  endSession(sid: string, now: Date, reason: string, orToken?: TokenRevocation): Promise<LedgerWrite>;
  /** Sets the user's cut-off (moves it forward only) and ends every live session of theirs; the ids it ended. */
  cutOffUser(userId: string, at: Date, reason: string): Promise<string[]>;
  /** Deletes what no token can need any more: revocations past `now`, sessions and cut-offs older than their horizons. */
  purgeExpired(now: Date, sessionsBefore: Date, cutoffsBefore: Date): Promise<number>;
}

/** The change log of the memory stores, as the ledger writes it. */
export interface SessionChangeLog {
  append(kind: RevocationChangeKind, subject: string, at: Date): void;
  purge(kind: RevocationChangeKind, before: Date): void;
}

/**
 * The ledger over stores that have no transaction in common: the memory set (one process, nothing interleaves a
 * synchronous store), the cache set, and an app's own stores. Writes go one store after another, the cut-off
 * before the sessions: a write cut half-way leaves the safer half done, and the retry finishes it.
 * `sessionLog`, for the memory set: where ended sessions are numbered for the gates of the same process (the
 * memory revocation and cut-off stores number their own changes).
 */
export class StoreLedger implements RevocationLedger {
  constructor(
    private readonly stores: { revocations: RevocationStore; sessions: SessionEnds; cutoffs: UserCutoffStore },
    private readonly sessionLog?: SessionChangeLog,
  ) {}

  revokeToken({ jti, expiresAt, meta }: TokenRevocation): Promise<void> {
    return this.stores.revocations.revoke(jti, expiresAt, meta);
  }

  async endSession(sid: string, now: Date, reason: string, orToken?: TokenRevocation): Promise<LedgerWrite> {
    if (await this.stores.sessions.end(sid, now, reason)) {
      this.sessionLog?.append('session', sid, now);
      return { endedSession: sid };
    }
    if (!orToken) return {};
    await this.revokeToken(orToken);
    return { revokedJti: orToken.jti };
  }

  async cutOffUser(userId: string, at: Date, reason: string): Promise<string[]> {
    await this.stores.cutoffs.set(userId, at);
    const ended = await this.stores.sessions.endAllForUser(userId, at, reason);
    for (const sid of ended) this.sessionLog?.append('session', sid, at);
    return ended;
  }

  async purgeExpired(now: Date, sessionsBefore: Date, cutoffsBefore: Date): Promise<number> {
    const { revocations, sessions, cutoffs } = this.stores;
    const counts = await Promise.all([
      revocations.purgeExpired(now),
      sessions.purgeEndedBefore(sessionsBefore),
      cutoffs.purgeOlderThan(cutoffsBefore),
    ]);
    this.sessionLog?.purge('session', sessionsBefore);
    return counts[0] + counts[1] + counts[2];
  }
}

const logger = new Logger('RevocationGate');

/** A store call bounded by `timeoutMs`; any failure becomes `auth_unavailable` (logged once here, without the query). */
export async function revocationStoreCall<T>(work: () => Promise<T>, timeoutMs: number): Promise<T> {
  try {
    return await withTimeout(Promise.resolve().then(work), timeoutMs);
  } catch (err) {
    if (err instanceof AuthError) throw err;
    logger.error(
      `revocation store write failed: ${(err instanceof Error ? `${err.name}: ${err.message}` : String(err)).split('\n')[0]!.slice(0, 200)}`,
    );
    throw new AuthError('auth_unavailable', 'store_failed');
  }
}
