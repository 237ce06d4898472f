import type { DataSource } from 'typeorm';
import type { RevocationChannel } from '../../src/revocation/revocation-channel.js';
import type { RevocationFeed } from '../../src/revocation/revocation-feed.js';
import { RevocationGate, type RevocationClaims, type RevocationVerdict } from '../../src/revocation/revocation-gate.js';
import { StoreLedger, type RevocationLedger, type SessionChangeLog } from '../../src/revocation/revocation-ledger.js';
import type { RevocationStore, UserCutoffStore } from '../../src/revocation/revocation-store.js';
import { RevocationSync } from '../../src/revocation/revocation-sync.js';
import { RevocationWriter } from '../../src/revocation/revocation-writer.js';
import {
  TypeOrmRevocationFeed,
  TypeOrmRevocationLedger,
  TypeOrmRevocationStore,
  TypeOrmUserCutoffStore,
} from '../../src/revocation/typeorm-revocation.store.js';
import type { SessionStore } from '../../src/sessions/session-store.js';
import { TypeOrmSessionStore } from '../../src/sessions/typeorm-session.store.js';

/** One instance's revocation stores, as the module resolves them: the stores, the change log, the ledger that writes. */
export interface GateStores {
  revocations: RevocationStore;
  sessions: SessionStore;
  cutoffs: UserCutoffStore;
  feed?: RevocationFeed;
  ledger: RevocationLedger;
}

/** The gate's stores on one DataSource, with the change-log feed; `clock` is the writer's wall clock. */
export function typeOrmGateStores(ds: DataSource, clock: () => number = Date.now): GateStores {
  const revocations = new TypeOrmRevocationStore(ds, clock);
  const sessions = new TypeOrmSessionStore(ds);
  const cutoffs = new TypeOrmUserCutoffStore(ds, clock);
  return {
    revocations,
    sessions,
    cutoffs,
    feed: new TypeOrmRevocationFeed(ds),
    ledger: new TypeOrmRevocationLedger(ds, revocations, sessions, cutoffs),
  };
}

/** The ledger over memory (or custom) stores; `log` numbers session ends for the gates that read it. */
export function storeLedger(stores: Omit<GateStores, 'ledger' | 'feed'>, log?: SessionChangeLog): RevocationLedger {
  return new StoreLedger(stores, log);
}

export interface UnitOptions {
  consistency: 'cached' | 'strict';
  syncIntervalMs: number;
  accessTokenTtl: number;
  maxTokenLifetime: number;
  storeTimeoutMs?: number;
  channelSyncIntervalMs?: number;
  channel?: RevocationChannel;
}

/**
 * One instance's revocation, wired as the module wires it: the gate (the verdict), the sync (polls, channel,
 * purge), the writer (the one write path). Tests drive an "instance" through it.
 */
export class RevocationUnit {
  readonly gate: RevocationGate;
  readonly sync: RevocationSync;
  readonly writer: RevocationWriter;

  constructor(
    readonly stores: GateStores,
    options: UnitOptions,
    private readonly clock: () => number = Date.now,
    elapsed: () => number = clock,
  ) {
    this.gate = new RevocationGate(stores, options, elapsed);
    this.sync = new RevocationSync(stores, this.gate, { ...options }, clock, elapsed);
    this.writer = new RevocationWriter(stores, this.gate, this.sync, options, clock);
  }

  get channelAlive(): boolean {
    return this.sync.channelAlive;
  }
  start(): Promise<void> {
    return this.sync.start();
  }
  stop(): Promise<void> {
    return this.sync.stop();
  }
  syncNow(): Promise<boolean> {
    return this.sync.syncNow();
  }
  purgeExpired(now?: Date): Promise<number> {
    return this.sync.purgeExpired(now);
  }
  check(claims: RevocationClaims): RevocationVerdict | Promise<RevocationVerdict> {
    return this.gate.check(claims);
  }
  revokeJti(jti: string, expiresAt: Date, meta?: { userId?: string; reason?: string }): Promise<void> {
    return this.writer.revokeToken(jti, expiresAt, meta);
  }
  endSession(sid: string, at: Date = new Date(this.clock()), reason = 'logout'): Promise<boolean> {
    return this.writer.endSession(sid, at, reason);
  }
  cutOffUser(userId: string, at: Date): Promise<string[]> {
    return this.writer.cutOffUser(userId, at, 'revoke_all');
  }
}
