import type { RevocationChangeKind } from './revocation.entities.js';

export type { RevocationChangeKind };

/** One entry of the change log: see `RevocationFeed`. */
export interface RevocationChange {
  seq: number;
  kind: RevocationChangeKind;
  /** jti, session id or user id. */
  subject: string;
  /** jti: the token's expiry; session: when it ended; cutoff: the cut-off itself. */
  at: Date;
}

/**
 * The clock-independent feed of `cached` mode: every revocation, ended session
 * and cut-off, numbered by the database in the transaction that wrote it.
 * The gate polls `seq > cursor`, so a writer's wall clock never decides what
 * another instance sees.
 */
export interface RevocationFeed {
  /** Changes with `seq > after`, in `seq` order, at most `limit`. */
  changesAfter(after: number, limit: number): Promise<RevocationChange[]>;
}

/**
 * Marks a store that writes its changes to the feed of the same store set:
 * the gate then needs no time-based poll of it.
 */
export const WRITES_FEED = Symbol.for('@democrai/nest-auth:writes-feed');

export function writesFeed(store: object): boolean {
  return (store as { [WRITES_FEED]?: boolean })[WRITES_FEED] === true;
}

/** The feed of the memory stores: one process, so one counter. */
export class InMemoryRevocationLog implements RevocationFeed {
  private readonly rows: RevocationChange[] = [];
  private seq = 0;

  append(kind: RevocationChangeKind, subject: string, at: Date): void {
    this.rows.push({ seq: ++this.seq, kind, subject, at });
  }

  async changesAfter(after: number, limit: number): Promise<RevocationChange[]> {
    const out: RevocationChange[] = [];
    for (const row of this.rows) {
      if (row.seq > after) out.push({ ...row });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Drops entries of `kind` older than `before`; the newest entry stays so the counter is never reused. */
  purge(kind: RevocationChangeKind, before: Date): void {
    const last = this.rows[this.rows.length - 1];
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const row = this.rows[i]!;
      if (row !== last && row.kind === kind && row.at < before) this.rows.splice(i, 1);
    }
  }
}
