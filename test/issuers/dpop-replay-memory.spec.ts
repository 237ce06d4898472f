// The in-memory DPoP replay store: a proof once, its entry gone after its window, and a hard bound on entries
// (a client flooding proofs within one window gets 503, never an unbounded heap).
import { describe, expect, test } from '@jest/globals';
import { InMemoryDpopReplayStore } from '../../src/dpop/dpop-replay.store.js';

describe('InMemoryDpopReplayStore', () => {
  test('a key is claimed once while it lives, and again once expired', async () => {
    let now = 1_000_000;
    const store = new InMemoryDpopReplayStore(() => now);
    expect(await store.claim('a', now + 60_000)).toBe(true);
    expect(await store.claim('a', now + 60_000)).toBe(false);
    now += 60_001;
    expect(await store.claim('a', now + 60_000)).toBe(true);
  });

  test('full of live entries: auth_unavailable; expired ones are swept to make room', async () => {
    let now = 0;
    const store = new InMemoryDpopReplayStore(() => now, 2000);
    for (let i = 0; i < 2000; i++) expect(await store.claim(`k${i}`, now + 1000)).toBe(true);
    await expect(store.claim('one-more', now + 1000)).rejects.toMatchObject({ code: 'auth_unavailable' });
    now += 1001;
    expect(await store.claim('one-more', now + 1000)).toBe(true);
  });
});
