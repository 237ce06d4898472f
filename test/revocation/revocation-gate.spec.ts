import { afterEach, describe, expect, test } from '@jest/globals';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../../src/revocation/in-memory-revocation.store.js';
import { InMemoryRevocationLog, type RevocationChange, type RevocationFeed } from '../../src/revocation/revocation-feed.js';
import { InMemorySessionStore } from '../../src/sessions/in-memory-session.store.js';
import { RevocationUnit, storeLedger, type GateStores, type UnitOptions } from '../support/gate-stores.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_800_000_000_000) {
  let now = start;
  const clock = () => now;
  clock.advance = (ms: number) => (now += ms);
  return clock;
}

function memoryStores(): GateStores {
  const log = new InMemoryRevocationLog();
  const stores = { revocations: new InMemoryRevocationStore(log), sessions: new InMemorySessionStore(), cutoffs: new InMemoryUserCutoffStore(log) };
  return { ...stores, feed: log, ledger: storeLedger(stores, log) };
}

const never = <T>() => new Promise<T>(() => undefined);
const base: UnitOptions = {
  consistency: 'cached',
  syncIntervalMs: 1000,
  accessTokenTtl: 900,
  maxTokenLifetime: 1_209_600,
  storeTimeoutMs: 50,
};
const gates: RevocationUnit[] = [];
function gate(stores: GateStores, options: Partial<UnitOptions> = {}, clock: () => number = Date.now): RevocationUnit {
  const g = new RevocationUnit(stores, { ...base, ...options }, clock);
  gates.push(g);
  return g;
}
const claims = (jti: string, extra: { sid?: string; sub?: string; iat?: number } = {}) => ({
  jti,
  sub: extra.sub ?? 'u1',
  iat: extra.iat ?? 1_800_000_000,
  ...(extra.sid ? { sid: extra.sid } : {}),
});

afterEach(async () => {
  for (const g of gates.splice(0)) await g.stop();
});

describe('cached mode', () => {
  test('check() is synchronous: a verdict, not a promise', async () => {
    const g = gate(memoryStores());
    await g.start();
    const verdict = g.check(claims('a'));
    expect(verdict).toBeNull();
    expect(verdict).not.toBeInstanceOf(Promise);
  });

  test("another instance's revocation, ended session and cut-off arrive with the next poll", async () => {
    const stores = memoryStores();
    const writer = gate(stores);
    const reader = gate(stores);
    await writer.start();
    await reader.start();
    await writer.revokeJti('j1', new Date(Date.now() + 60_000));
    await stores.sessions.create({ id: 's1', userId: 'u1', currentJti: 'r1', createdAt: new Date(), expiresAt: new Date(Date.now() + 60_000) });
    await writer.endSession('s1', new Date());
    await writer.cutOffUser('u2', new Date(1_800_000_100_000));
    expect(writer.check(claims('j1'))).toBe('token_revoked');
    expect(reader.check(claims('j1'))).toBeNull();

    expect(await reader.syncNow()).toBe(true);
    expect(reader.check(claims('j1'))).toBe('token_revoked');
    expect(reader.check(claims('x', { sid: 's1' }))).toBe('token_revoked');
    expect(reader.check(claims('y', { sub: 'u2', iat: 1_800_000_099 }))).toBe('token_revoked');
    expect(reader.check(claims('z', { sub: 'u2', iat: 1_800_000_101 }))).toBeNull();
  });

  test('a writer whose clock is 30 s behind still reaches the reader (the feed is numbered, not dated)', async () => {
    const stores = memoryStores();
    const late = manualClock(Date.now() - 30_000);
    const writer = gate(stores, {}, late);
    const reader = gate(stores);
    await writer.start();
    await reader.start();
    await reader.syncNow();
    await stores.sessions.create({ id: 's-late', userId: 'u1', currentJti: 'r', createdAt: new Date(late()), expiresAt: new Date(late() + 60_000) });
    await writer.endSession('s-late', new Date(late()));
    await reader.syncNow();
    expect(reader.check(claims('t', { sid: 's-late' }))).toBe('token_revoked');
  });
});

describe('stale bound and recovery', () => {
  test('no successful poll for 3 × syncIntervalMs (at least 3 s): auth_unavailable; the next good poll clears it', async () => {
    const clock = manualClock();
    const stores = memoryStores();
    let hang = false;
    const feed: RevocationFeed = { changesAfter: (after, limit) => (hang ? never() : stores.feed!.changesAfter(after, limit)) };
    const g = gate({ ...stores, feed }, {}, clock);
    await g.start();
    clock.advance(3000);
    expect(g.check(claims('a'))).toBeNull();
    hang = true;
    expect(await g.syncNow()).toBe(false);
    clock.advance(1);
    expect(g.check(claims('a'))).toBe('auth_unavailable');
    // The hung poll did not leave the gate stuck: the next one runs and succeeds.
    hang = false;
    expect(await g.syncNow()).toBe(true);
    expect(g.check(claims('a'))).toBeNull();
  });

  test('a poll that never settles is cut off at storeTimeoutMs, and its late answer is dropped', async () => {
    const stores = memoryStores();
    let release: ((rows: RevocationChange[]) => void) | undefined;
    let first = true;
    const feed: RevocationFeed = {
      changesAfter: (after, limit) => {
        if (first) return stores.feed!.changesAfter(after, limit).finally(() => (first = false));
        return new Promise((resolve) => (release = resolve));
      },
    };
    const g = gate({ ...stores, feed });
    await g.start();
    expect(await g.syncNow()).toBe(false);
    release!([{ seq: 99, kind: 'jti', subject: 'late', at: new Date(Date.now() + 60_000) }]);
    await new Promise((r) => setImmediate(r));
    expect(g.check(claims('late'))).toBeNull();
  });

  test('a failing poll at boot fails the boot', async () => {
    const stores = memoryStores();
    const g = gate({ ...stores, feed: { changesAfter: () => Promise.reject(new Error('ECONNREFUSED')) } });
    await expect(g.start()).rejects.toMatchObject({ code: 'auth_unavailable' });
  });
});

describe('strict mode', () => {
  test('a promise per check; a hanging store answers auth_unavailable at the timeout', async () => {
    const stores = memoryStores();
    const g = gate(stores, { consistency: 'strict' });
    await g.start();
    const verdict = g.check(claims('a'));
    expect(verdict).toBeInstanceOf(Promise);
    expect(await verdict).toBeNull();
    stores.revocations.isRevoked = () => never();
    expect(await g.check(claims('a'))).toBe('auth_unavailable');
    stores.revocations.isRevoked = () => Promise.reject(new Error('connection terminated'));
    expect(await g.check(claims('a'))).toBe('auth_unavailable');
  });

  test('writes through a hanging store reject with auth_unavailable', async () => {
    const stores = memoryStores();
    const g = gate(stores, { consistency: 'strict' });
    await g.start();
    stores.revocations.revoke = () => never();
    await expect(g.revokeJti('j', new Date())).rejects.toMatchObject({ code: 'auth_unavailable' });
    stores.cutoffs.set = () => Promise.reject(new Error('deadlock'));
    await expect(g.cutOffUser('u', new Date())).rejects.toMatchObject({ code: 'auth_unavailable' });
  });
});

describe('overlap for out-of-order commits', () => {
  test('a seq that commits after a higher one is still read by a later poll', async () => {
    const rows: RevocationChange[] = [];
    const feed: RevocationFeed = {
      changesAfter: async (after, limit) =>
        rows
          .filter((r) => r.seq > after)
          .sort((a, b) => a.seq - b.seq)
          .slice(0, limit),
    };
    const stores = { ...memoryStores(), feed };
    const g = gate(stores);
    await g.start();
    const exp = new Date(Date.now() + 60_000);
    rows.push({ seq: 1, kind: 'jti', subject: 'one', at: exp }, { seq: 3, kind: 'jti', subject: 'three', at: exp });
    await g.syncNow();
    expect(g.check(claims('three'))).toBe('token_revoked');
    // seq 2 was taken before 3 but commits after the poll that saw 3.
    rows.push({ seq: 2, kind: 'jti', subject: 'two', at: exp });
    await g.syncNow();
    expect(g.check(claims('two'))).toBe('token_revoked');
  });
});
