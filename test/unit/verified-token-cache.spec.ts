import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { VerifiedTokenCache, entrySize, keyOf } from '../../src/authentication/verified-token-cache.js';
import type { VerifiedClaims } from '../../src/tokens/token.types.js';

// Token-shaped strings: the cache never parses them; it sizes them by their segments and keys them by the signature's.
const signatureOf = (s: string) => createHash('sha256').update(s).digest('base64url');
const tokenOf = (i: number) => {
  const input = `eyJhbGciOiJIUzI1NiJ9.${'p'.repeat(200)}${String(i).padStart(8, '0')}`;
  return `${input}.${signatureOf(input)}`;
};
const claimsOf = (i: number, exp = 2_000_000_000): VerifiedClaims => ({
  sub: String(i),
  jti: `j${i}`,
  iat: 1_700_000_000,
  exp,
  permissions: ['articles:read'],
});

class Clock {
  seconds = 1_800_000_000;
  readonly now = () => this.seconds;
}

describe('VerifiedTokenCache', () => {
  it('answers a token it was given, with frozen claims and its permissions', () => {
    const cache = new VerifiedTokenCache(1);
    const added = cache.add(tokenOf(1), claimsOf(1));
    const hit = cache.get(tokenOf(1));
    expect(hit).toBe(added);
    expect(hit!.claims.sub).toBe('1');
    expect(hit!.permissions).toEqual(['articles:read']);
    expect(Object.isFrozen(hit!.claims)).toBe(true);
    expect(Object.isFrozen(hit!.permissions)).toBe(true);
    expect(cache.get(tokenOf(2))).toBeUndefined();
  });

  it('keeps only the string members of a permissions claim', () => {
    const cache = new VerifiedTokenCache(1);
    const entry = cache.add(tokenOf(1), { ...claimsOf(1), permissions: ['a', 3, null, 'b'] });
    expect(entry.permissions).toEqual(['a', 'b']);
    expect(cache.add(tokenOf(2), { ...claimsOf(2), permissions: 'a' }).permissions).toEqual([]);
  });

  it('never holds more than its memory bound, however many tokens arrive', () => {
    const cache = new VerifiedTokenCache(0.25);
    const per = entrySize(tokenOf(0));
    for (let i = 0; i < 5000; i++) {
      cache.add(tokenOf(i), claimsOf(i));
      expect(cache.estimatedBytes).toBeLessThanOrEqual(cache.maxBytes);
    }
    expect(cache.size).toBe(Math.floor(cache.maxBytes / per));
    // The newest tokens are held, the oldest went.
    expect(cache.get(tokenOf(4999))).toBeDefined();
    expect(cache.get(tokenOf(0))).toBeUndefined();
  });

  it('keeps hot tokens through a scan of cold ones (CLOCK second chance)', () => {
    const cache = new VerifiedTokenCache(0.25);
    const capacity = Math.floor(cache.maxBytes / entrySize(tokenOf(0)));
    const hot = [0, 1, 2, 3, 4];
    for (let i = 0; i < capacity; i++) cache.add(tokenOf(i), claimsOf(i));
    for (const h of hot) cache.get(tokenOf(h));
    // Many times the capacity in one-off tokens, with the hot ones used in between.
    for (let i = capacity; i < capacity * 6; i++) {
      cache.add(tokenOf(i), claimsOf(i));
      if (i % 50 === 0) for (const h of hot) expect(cache.get(tokenOf(h))).toBeDefined();
    }
    for (const h of hot) expect(cache.get(tokenOf(h))).toBeDefined();
    expect(cache.get(tokenOf(capacity))).toBeUndefined();
  });

  it('drops an entry at its exp, with the clock tolerance', () => {
    const clock = new Clock();
    const cache = new VerifiedTokenCache(1, 5, clock.now);
    cache.add(tokenOf(1), claimsOf(1, clock.seconds + 10));
    clock.seconds += 14.9;
    expect(cache.get(tokenOf(1))).toBeDefined();
    clock.seconds += 0.1;
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.estimatedBytes).toBe(0);
  });

  it('evicts expired entries before live ones, even referenced ones', () => {
    const clock = new Clock();
    const cache = new VerifiedTokenCache(0.25, 0, clock.now);
    const capacity = Math.floor(cache.maxBytes / entrySize(tokenOf(0)));
    for (let i = 0; i < capacity; i++) cache.add(tokenOf(i), claimsOf(i, clock.seconds + (i === 7 ? 1 : 1000)));
    for (let i = 0; i < capacity; i++) cache.get(tokenOf(i));
    clock.seconds += 2;
    cache.add(tokenOf(capacity), claimsOf(capacity, clock.seconds + 1000));
    expect(cache.size).toBe(capacity);
    expect(cache.get(tokenOf(7))).toBeUndefined();
    for (const i of [0, 6, 8, capacity - 1, capacity]) expect(cache.get(tokenOf(i))).toBeDefined();
  });

  it('deletes on request and replaces a token added twice', () => {
    const cache = new VerifiedTokenCache(1);
    cache.add(tokenOf(1), claimsOf(1));
    const second = cache.add(tokenOf(1), claimsOf(1));
    expect(cache.size).toBe(1);
    expect(cache.estimatedBytes).toBe(entrySize(tokenOf(1)));
    expect(cache.get(tokenOf(1))).toBe(second);
    cache.delete(tokenOf(1));
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(cache.estimatedBytes).toBe(0);
  });

  it('answers only the very token it verified, not another one with the same key', () => {
    const cache = new VerifiedTokenCache(1);
    const real = tokenOf(1);
    // Same signature segment, another payload: what a forger would send after seeing a cached token.
    const forged = real.replace('p'.repeat(10), 'q'.repeat(10));
    expect(keyOf(forged)).toBe(keyOf(real));
    cache.add(real, claimsOf(1));
    expect(cache.get(forged)).toBeUndefined();
    expect(cache.get(real)).toBeDefined();
    cache.delete(forged);
    expect(cache.get(real)).toBeDefined();
    // A colliding verified token takes the slot; the first is then a miss, never a wrong answer.
    cache.add(forged, claimsOf(2));
    expect(cache.get(forged)!.claims.sub).toBe('2');
    expect(cache.get(real)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('caches nothing with a bound of 0, and refuses a bound that is not a number', () => {
    const cache = new VerifiedTokenCache(0);
    expect(cache.add(tokenOf(1), claimsOf(1)).claims.sub).toBe('1');
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(() => new VerifiedTokenCache(Number.NaN)).toThrow(RangeError);
    expect(() => new VerifiedTokenCache(-1)).toThrow(RangeError);
  });
});
