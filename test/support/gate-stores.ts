import type { DataSource } from 'typeorm';
import type { GateStores } from '../../src/revocation/revocation-gate.js';
import { TypeOrmRevocationFeed, TypeOrmRevocationStore, TypeOrmUserCutoffStore } from '../../src/revocation/typeorm-revocation.store.js';
import { TypeOrmSessionStore } from '../../src/sessions/typeorm-session.store.js';

/** The gate's stores on one DataSource, with the change-log feed; `clock` is the writer's wall clock. */
export function typeOrmGateStores(ds: DataSource, clock: () => number = Date.now): GateStores {
  return {
    revocations: new TypeOrmRevocationStore(ds, clock),
    sessions: new TypeOrmSessionStore(ds),
    cutoffs: new TypeOrmUserCutoffStore(ds, clock),
    feed: new TypeOrmRevocationFeed(ds),
  };
}
