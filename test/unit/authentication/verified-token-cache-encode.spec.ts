/** The compact form of a cache entry: its JSON text and the bytes counted for it, whatever the claim values hold (src/authentication/verified-token-cache.ts, encode). */
import { describe, expect, it } from '@jest/globals';
import { VerifiedTokenCache, entryStringBytes } from '../../../src/authentication/verified-token-cache.js';
import type { VerifiedClaims } from '../../../src/tokens/token.types.js';

const tokenOf = (i: number) => `h.${Buffer.from(`token ${i}`).toString('base64url')}.s`;
const claimsOf = (sub: unknown, username: unknown, extra: Record<string, unknown> = {}): VerifiedClaims =>
  ({
    sub,
    username,
    sid: 's1',
    jti: 'j1-xxxxxxxxxxxxxxxxxx',
    iat: 1_700_000_000,
    exp: 2_000_000_000,
    permissions: ['articles:read', 'articles:write'],
    ...extra,
  }) as unknown as VerifiedClaims;
/** What the cache counts for a string, computed here from its characters. */
const expectedBytes = (text: string) => (16 + (/[^\u0000-\u00ff]/.test(text) ? 2 : 1) * text.length + 7) & ~7;

const ODD = [
  '',
  'plain',
  'a"b',
  '"',
  'a\\b',
  '\\"',
  'tab\there',
  'nul\u0000',
  'del\u007f',
  'c1\u0085',
  'é',
  'ÿ\u00a0',
  'ł',
  '€',
  '😀',
  'lone \ud800',
  'lone \udc00 low',
  '\u2028\u2029',
  '","',
  '"]',
  '["',
  'x'.repeat(300),
];

describe('VerifiedTokenCache entries, encoded and read back', () => {
  it('give back every value as it was given, whatever its characters', () => {
    const cache = new VerifiedTokenCache(4, 0, () => 1_800_000_000);
    let i = 0;
    for (const a of ODD)
      for (const b of [ODD[0], 'user', a, 'é', 'ł']) {
        const claims = claimsOf(a, b);
        const token = tokenOf(i++);
        expect(cache.add(token, claims).claims).toEqual(claims);
        expect(cache.get(token)?.claims).toEqual(claims);
      }
    for (const extra of [{ n: 1.5 }, { n: null }, { flag: true, list: ['a"', 'b'] }, { nested: { 'k"': 'v\\' } }, { '': 'empty name' }]) {
      const claims = claimsOf('1', 'u', extra);
      const token = tokenOf(i++);
      cache.add(token, claims);
      expect(cache.get(token)?.claims).toEqual(claims);
    }
  });

  it('count each entry string by its characters: one byte each within latin1, two beyond', () => {
    for (const a of ODD) {
      const cache = new VerifiedTokenCache(4, 0, () => 1_800_000_000);
      // The first entry interns the claim names and the permissions list; the second adds its string alone.
      cache.add(tokenOf(0), claimsOf('0', 'u'));
      const before = cache.estimatedBytes;
      cache.add(tokenOf(1), claimsOf(a, 'user'));
      const text = JSON.stringify([a, 'user', 's1', 'j1-xxxxxxxxxxxxxxxxxx']);
      expect([a, cache.estimatedBytes - before]).toEqual([a, expectedBytes(text)]);
      expect(entryStringBytes(text)).toBe(expectedBytes(text));
    }
  });
});
