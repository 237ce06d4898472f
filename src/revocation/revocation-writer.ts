import { DEFAULT_STORE_TIMEOUT_MS } from '../persistence/bounded-store.js';
import type { RevocationGate } from './revocation-gate.js';
import { revocationStoreCall, type LedgerWrite, type RevocationLedger, type TokenRevocation } from './revocation-ledger.js';
import type { RevocationSync } from './revocation-sync.js';

/**
 * The one writer of revocation state. Ending a session, revoking a token and
 * cutting off a user each make one write to the ledger (the change and its
 * change-log row, in one transaction where the store has them), then note it
 * in this instance's gate (refused here at once), then one publish on the
 * channel (the other instances read the change log now instead of at their
 * next poll). A write that fails rejects with `auth_unavailable` and changes
 * nothing here; nothing is published.
 */
export class RevocationWriter {
  private readonly timeoutMs: number;

  constructor(
    /** Read at each call: the ledger is resolved with the stores when the module initialises. */
    private readonly stores: { readonly ledger: RevocationLedger },
    private readonly gate: RevocationGate,
    private readonly sync: Pick<RevocationSync, 'publish'>,
    options: { storeTimeoutMs?: number },
    private readonly clock: () => number = Date.now,
  ) {
    this.timeoutMs = options.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  }

  /** Refuses the token id `jti` until `expiresAt`, everywhere. */
  async revokeToken(jti: string, expiresAt: Date, meta?: { userId?: string; reason?: string }): Promise<void> {
    await revocationStoreCall(() => this.stores.ledger.revokeToken({ jti, expiresAt, meta }), this.timeoutMs);
    this.noted({ revokedJti: jti }, expiresAt.getTime());
  }

  /**
   * Ends the session `sid`; true if this call ended it. With `orToken`: that
   * token is revoked instead when no live session was there to end (a session
   * this store does not know), so it stops working either way.
   */
  async endSession(sid: string, at: Date, reason: string, orToken?: TokenRevocation): Promise<boolean> {
    const write = await revocationStoreCall(() => this.stores.ledger.endSession(sid, at, reason, orToken), this.timeoutMs);
    // Refused here even if another instance ended it first and this one has not read that yet.
    this.gate.noteEnded(sid, this.clock());
    this.noted(write, orToken?.expiresAt.getTime() ?? 0);
    return write.endedSession !== undefined;
  }

  /** Refuses every token of the user issued before `at` and ends their live sessions; the ids it ended. */
  async cutOffUser(userId: string, at: Date, reason: string): Promise<string[]> {
    const ended = await revocationStoreCall(() => this.stores.ledger.cutOffUser(userId, at, reason), this.timeoutMs);
    this.gate.noteCutoff(userId, at.getTime());
    const now = this.clock();
    for (const sid of ended) this.gate.noteEnded(sid, now);
    this.sync.publish({ kind: 'cutoff', subject: userId, at: at.getTime() });
    return ended;
  }

  private noted(write: LedgerWrite, expiresAtMs: number): void {
    if (write.revokedJti !== undefined) {
      this.gate.noteRevoked(write.revokedJti, expiresAtMs);
      this.sync.publish({ kind: 'jti', subject: write.revokedJti, at: expiresAtMs });
    } else if (write.endedSession !== undefined) {
      this.sync.publish({ kind: 'session', subject: write.endedSession, at: this.clock() });
    }
  }
}
