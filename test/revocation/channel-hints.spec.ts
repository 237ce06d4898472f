/**
 * The gate's side of "a channel message is a hint" (#21 items 7 and 11),
 * with an in-process channel: runs everywhere, no server needed. The real
 * PostgreSQL and Redis channels are in channel-hints.db.spec.ts.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../../src/revocation/in-memory-revocation.store.js';
import type { RevocationChannel, RevocationChannelListener, RevocationEvent } from '../../src/revocation/revocation-channel.js';
import { InMemoryRevocationLog, type RevocationFeed } from '../../src/revocation/revocation-feed.js';
import { InMemorySessionStore } from '../../src/sessions/in-memory-session.store.js';
import { RevocationUnit, storeLedger, type GateStores } from '../support/gate-stores.js';

/** A channel the test drives: `deliver` is what arrives from the wire; `healthy` whether it reports alive. */
class FakeChannel implements RevocationChannel {
  readonly name = 'fake';
  listener: RevocationChannelListener | undefined;
  published: RevocationEvent[] = [];
  canPublish = true;
  async start(listener: RevocationChannelListener): Promise<void> {
    this.listener = listener;
    listener.alive();
  }
  async publish(event: RevocationEvent): Promise<void> {
    if (!this.canPublish) throw new Error('not connected');
    this.published.push(event);
  }
  async stop(): Promise<void> {
    this.listener = undefined;
  }
  deliver(event: RevocationEvent): void {
    this.listener?.event(event);
  }
}

/** One store set shared by the "instances", with the feed reads of each gate counted. */
function shared() {
  const log = new InMemoryRevocationLog();
  const base = { revocations: new InMemoryRevocationStore(log), sessions: new InMemorySessionStore(), cutoffs: new InMemoryUserCutoffStore(log) };
  const stores: GateStores = { ...base, feed: log, ledger: storeLedger(base, log) };
  const counted = () => {
    let reads = 0;
    const feed: RevocationFeed = { changesAfter: (a, l) => (reads++, log.changesAfter(a, l)) };
    return { stores: { ...stores, feed }, reads: () => reads };
  };
  return { stores, counted };
}

/** No poll of the gate running or waiting for a hint's turn (a read is applied in the microtasks that follow it). */
function idle(unit: RevocationUnit): boolean {
  const g = unit.sync as unknown as { inFlight: Promise<boolean> | undefined; hintPending: boolean };
  return g.inFlight === undefined && !g.hintPending;
}

const gates: RevocationUnit[] = [];
afterEach(async () => {
  for (const g of gates.splice(0)) await g.stop();
});

async function waitFor(what: string, predicate: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const opts = { consistency: 'cached' as const, accessTokenTtl: 900, maxTokenLifetime: 86_400, storeTimeoutMs: 500 };

describe('channel messages are hints', () => {
  test('a forged cut-off, jti or session event refuses nothing and keeps nothing; it only causes a read', async () => {
    const { counted } = shared();
    const r = counted();
    const channel = new FakeChannel();
    const reader = new RevocationUnit(r.stores, { ...opts, syncIntervalMs: 60_000, channel });
    gates.push(reader);
    await reader.start();
    const before = r.reads();
    channel.deliver({ kind: 'cutoff', subject: '1', at: 4102444800000, origin: 'x' });
    for (let i = 0; i < 1000; i++) channel.deliver({ kind: i % 2 ? 'jti' : 'session', subject: `f${i}`, at: 4102444800000, origin: `o${i}` });
    // Not a fixed pause: the reads the burst caused have run and been applied, and no other is waiting for its turn
    // (every message was delivered above), so the checks see all the burst could do and the reads counted are all.
    await waitFor('the reads the hints cause to settle', () => r.reads() > before && idle(reader));
    expect(reader.check({ jti: 'fresh', sub: '1', iat: Math.floor(Date.now() / 1000) })).toBeNull();
    expect(reader.check({ jti: 'f1', sub: 'u', iat: 1 })).toBeNull();
    expect(reader.check({ jti: 'x', sid: 'f0', sub: 'u', iat: 1 })).toBeNull();
    const g = reader.gate as unknown as { revoked: Map<string, number>; ended: Map<string, number>; cutoffs: Map<string, number> };
    expect(g.revoked.size + g.ended.size + g.cutoffs.size).toBe(0);
    // 1,001 messages in one burst: one read, maybe two, not one each.
    expect(r.reads() - before).toBeLessThanOrEqual(2);
  });

  test("a real write announced on the channel is read at once, long before the minute's poll", async () => {
    const { stores, counted } = shared();
    const wc = new FakeChannel();
    const rc = new FakeChannel();
    const writer = new RevocationUnit(stores, { ...opts, syncIntervalMs: 60_000, channel: wc });
    const reader = new RevocationUnit(counted().stores, { ...opts, syncIntervalMs: 60_000, channel: rc });
    gates.push(writer, reader);
    await writer.start();
    await reader.start();
    await writer.revokeJti('real-1', new Date(Date.now() + 3_600_000));
    await waitFor('the publish', () => wc.published.length === 1);
    rc.deliver(wc.published[0]!);
    await waitFor('the reader to refuse', () => reader.check({ jti: 'real-1', sub: 'u', iat: 1 }) === 'token_revoked');
  });

  test('a hint arriving while a poll is in flight gets a poll of its own (the one in flight may have read before the write)', async () => {
    const { stores, counted } = shared();
    let release!: () => void;
    let hold = false;
    const r = counted();
    const slowFeed: RevocationFeed = {
      changesAfter: async (a, l) => {
        const answer = await r.stores.feed!.changesAfter(a, l);
        if (hold) await new Promise<void>((res) => (release = res));
        return answer;
      },
    };
    const rc = new FakeChannel();
    const reader = new RevocationUnit({ ...r.stores, feed: slowFeed }, { ...opts, syncIntervalMs: 60_000, channel: rc });
    const writer = new RevocationUnit(stores, { ...opts, syncIntervalMs: 60_000 });
    gates.push(reader, writer);
    await reader.start();
    await writer.start();
    hold = true;
    const before = r.reads();
    void reader.syncNow(); // reads the (empty) log, then waits
    await waitFor('the poll in flight', () => r.reads() > before);
    await writer.revokeJti('late-1', new Date(Date.now() + 3_600_000));
    hold = false;
    rc.deliver({ kind: 'jti', subject: 'late-1', at: 0, origin: 'w' });
    release();
    await waitFor('the reader to refuse', () => reader.check({ jti: 'late-1', sub: 'u', iat: 1 }) === 'token_revoked');
  });

  test("the writer's channel down, the reader's up: the reader still polls every syncIntervalMs", async () => {
    const { stores, counted } = shared();
    const wc = new FakeChannel();
    wc.canPublish = false;
    const rc = new FakeChannel();
    const writer = new RevocationUnit(stores, { ...opts, syncIntervalMs: 100, channel: wc, channelSyncIntervalMs: 600_000 });
    const reader = new RevocationUnit(counted().stores, { ...opts, syncIntervalMs: 100, channel: rc, channelSyncIntervalMs: 600_000 });
    gates.push(writer, reader);
    await writer.start();
    await reader.start();
    expect(reader.channelAlive).toBe(true);
    await writer.revokeJti('unpublished-1', new Date(Date.now() + 3_600_000));
    // The bound is syncIntervalMs + storeTimeoutMs (600 ms); the deadline is loose for a loaded machine.
    await waitFor('the poll to bring it', () => reader.check({ jti: 'unpublished-1', sub: 'u', iat: 1 }) === 'token_revoked', 5000);
  });

  test('a live channel is no proof of freshness: with the store failing, checks fail closed', async () => {
    const { counted } = shared();
    const r = counted();
    let failing = false;
    const feed: RevocationFeed = { changesAfter: (a, l) => (failing ? Promise.reject(new Error('down')) : r.stores.feed!.changesAfter(a, l)) };
    let now = 1_000_000;
    const rc = new FakeChannel();
    const reader = new RevocationUnit({ ...r.stores, feed }, { ...opts, syncIntervalMs: 1000, channel: rc }, Date.now, () => now);
    gates.push(reader);
    await reader.start();
    failing = true;
    now += 10_000;
    rc.listener?.alive(); // a heartbeat comes back
    expect(reader.check({ jti: 'a', sub: 'u', iat: 1 })).toBe('auth_unavailable');
  });
});
