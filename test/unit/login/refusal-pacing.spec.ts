import { describe, expect, test } from '@jest/globals';
import { RefusalPacing } from '../../../src/login/refusal-pacing.js';

const addr = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const streaksOf = (pacing: RefusalPacing) => (pacing as unknown as { streaks: Map<string, unknown> }).streaks;

describe('RefusalPacing (no transport: a timer only)', () => {
  test('the backoff streaks stay bounded whatever addresses arrive: the oldest are forgotten first', async () => {
    const pacing = new RefusalPacing(1);
    const refusals: Array<Promise<number>> = [];
    for (let i = 0; i < 100_050; i++) refusals.push(pacing.refusal(undefined, addr(i), 60, false));
    await Promise.all(refusals);
    const streaks = streaksOf(pacing);
    expect(streaks.size).toBe(100_000);
    expect(streaks.has(addr(0))).toBe(false);
    expect(streaks.has(addr(49))).toBe(false);
    expect(streaks.has(addr(50))).toBe(true);
    expect(streaks.has(addr(100_049))).toBe(true);
  });

  test('one address re-sending early backs off 1, 2, 4, 8, 8 (busy Retry-After grows); another address starts at 1; a success forgives', async () => {
    const pacing = new RefusalPacing(1);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push(await pacing.refusal(undefined, '192.0.2.1', 1, true));
    expect(seen).toEqual([1, 2, 4, 8, 8]);
    expect(await pacing.refusal(undefined, '192.0.2.2', 1, true)).toBe(1);
    pacing.forgive('192.0.2.1');
    expect(await pacing.refusal(undefined, '192.0.2.1', 1, true)).toBe(1);
    // A 429's Retry-After (the counter's) never grows.
    expect(await pacing.refusal(undefined, '192.0.2.1', 60, false)).toBe(60);
  });

  test('releaseAll answers every held call at once (shutdown)', async () => {
    const pacing = new RefusalPacing(10_000);
    let done = 0;
    const held = [1, 2, 3].map((i) => pacing.refusal(undefined, `192.0.2.${i}`, 60, false).then(() => done++));
    expect(pacing.holding).toBe(3);
    pacing.releaseAll();
    await Promise.all(held);
    expect(done).toBe(3);
    expect(pacing.holding).toBe(0);
  });
});
