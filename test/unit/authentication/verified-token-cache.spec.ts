import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { VerifiedTokenCache } from '../../../src/authentication/verified-token-cache.js';
import type { VerifiedClaims } from '../../../src/tokens/token.types.js';

// Token-shaped strings: the cache never parses them; it keys them by a digest of the whole string.
const b64 = (s: string) => Buffer.from(s).toString('base64url');
const HEADER = b64('{"alg":"HS256","typ":"at+jwt"}');
const signatureOf = (s: string) => createHash('sha256').update(s).digest('base64url');
const tokenOf = (i: number, header = HEADER) => {
  const input = `${header}.${b64(JSON.stringify({ sub: String(i), pad: 'p'.repeat(150) }))}`;
  return `${input}.${signatureOf(input)}`;
};
const claimsOf = (i: number, exp = 2_000_000_000): VerifiedClaims => ({
  sub: String(i),
  username: `user${i}`,
  sid: `s${i}`,
  jti: `j${i}-${'x'.repeat(18)}`,
  iat: 1_700_000_000,
  exp,
  is_staff: false,
  is_superuser: false,
  permissions: ['articles:read', 'articles:write'],
});
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

class Clock {
  seconds = 1_800_000_000;
  readonly now = () => this.seconds;
}

/** Fills a cache to its bound with one-off tokens; returns how many it holds. */
function fill(cache: VerifiedTokenCache, from = 0, count = 100_000): number {
  for (let i = from; i < from + count; i++) {
    cache.get(tokenOf(i));
    cache.add(tokenOf(i), claimsOf(i));
  }
  return cache.size;
}

describe('VerifiedTokenCache', () => {
  it('answers a token it was given with the claims it was given; what one request does to them never reaches the next', () => {
    const cache = new VerifiedTokenCache(1);
    const added = cache.add(tokenOf(1), claimsOf(1));
    const hit = cache.get(tokenOf(1))!;
    expect(hit.claims).toEqual(claimsOf(1));
    expect(added.claims).toEqual(claimsOf(1));
    expect(hit.permissions).toEqual(['articles:read', 'articles:write']);
    expect(Object.isFrozen(hit.permissions)).toBe(true);
    // Kept built from the first hit on, shared by the token's later requests, so frozen: no request can change what the next one sees.
    expect(Object.isFrozen(hit.claims)).toBe(true);
    expect(() => {
      (hit.claims as Record<string, unknown>).sub = 'changed';
    }).toThrow(TypeError);
    const again = cache.get(tokenOf(1))!;
    expect(again).toBe(hit);
    expect(again.claims.sub).toBe('1');
    expect(again.claims).toEqual(claimsOf(1));
    expect(cache.get(tokenOf(2))).toBeUndefined();
  });

  it('shares one frozen permissions list between the tokens of one role', () => {
    const cache = new VerifiedTokenCache(1);
    cache.add(tokenOf(1), claimsOf(1));
    cache.add(tokenOf(2), claimsOf(2));
    expect(cache.get(tokenOf(1))!.permissions).toBe(cache.get(tokenOf(2))!.permissions);
  });

  it('gives back every claim as the verifier parsed it: nested values, unicode, odd types, __proto__', () => {
    const cache = new VerifiedTokenCache(1);
    const odd = JSON.parse(
      '{"sub":"ü-1","jti":"j","iat":1.25,"exp":2000000000.5,"nbf":0.5,"aud":["a","b"],"sid":"s","email":"a@b.c",' +
        '"is_staff":"yes","is_superuser":true,"permissions":["a",3,null,"b"],"meta":{"x":[1,{"y":null}],"e":"日本"},' +
        '"__proto__":{"polluted":true},"n":-1.5e-7}',
    ) as VerifiedClaims;
    cache.add(tokenOf(7), odd);
    const hit = cache.get(tokenOf(7))!;
    expect(hit.claims).toEqual(odd);
    expect(Object.keys(hit.claims).sort()).toEqual(Object.keys(odd).sort());
    expect(Object.getPrototypeOf(hit.claims)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(hit.claims, '__proto__')!.value).toEqual({ polluted: true });
    expect(hit.permissions).toEqual(['a', 'b']);
    // No permissions claim: none, and none invented.
    const { permissions: _p, ...bare } = claimsOf(8);
    cache.add(tokenOf(8), bare as VerifiedClaims);
    expect(cache.get(tokenOf(8))!.claims).toEqual(bare);
    expect(cache.get(tokenOf(8))!.permissions).toEqual([]);
  });

  it('keeps only the string members of a permissions claim', () => {
    const cache = new VerifiedTokenCache(1);
    expect(cache.add(tokenOf(1), { ...claimsOf(1), permissions: ['a', 3, null, 'b'] }).permissions).toEqual(['a', 'b']);
    expect(cache.add(tokenOf(2), { ...claimsOf(2), permissions: 'a' }).permissions).toEqual([]);
    expect(cache.get(tokenOf(2))!.permissions).toEqual([]);
  });

  it('stays correct past the interning limits (many distinct permission lists)', () => {
    const cache = new VerifiedTokenCache(4);
    for (let i = 0; i < 1500; i++) cache.add(tokenOf(i), { ...claimsOf(i), permissions: [`p${i}`] });
    for (const i of [0, 1023, 1024, 1499]) {
      expect(cache.get(tokenOf(i))!.permissions).toEqual([`p${i}`]);
      expect(cache.get(tokenOf(i))!.claims.permissions).toEqual([`p${i}`]);
    }
  });

  describe('never answers for another token', () => {
    const real = tokenOf(1);
    const [h, p, s] = real.split('.');
    const cache = new VerifiedTokenCache(1);
    cache.add(real, claimsOf(1));

    it('the token itself is a hit', () => expect(cache.get(real)).toBeDefined());

    it('a prefix, an extension, or a token sharing all but its last character', () => {
      for (const other of [real.slice(0, -1), `${real}A`, `${real}.`, real.slice(0, real.lastIndexOf('.') + 1), `${h}.${p}`, ` ${real}`]) {
        expect(cache.get(other)).toBeUndefined();
      }
    });

    it('the same payload with another signature, the same signature with another header or payload', () => {
      const otherHeader = b64('{"alg":"HS256","typ":"at+jwt","kid":"x"}');
      for (const other of [
        `${h}.${p}.${signatureOf('x')}`,
        `${otherHeader}.${p}.${s}`,
        `${b64('{"typ":"at+jwt","alg":"HS256"}')}.${p}.${s}`,
        `${h}.${b64('{"sub":"2"}')}.${s}`,
        `${p}.${h}.${s}`,
      ]) {
        expect(cache.get(other)).toBeUndefined();
      }
    });

    it('one character changed, at every position of the token', () => {
      for (let i = 0; i < real.length; i++) {
        const c = real[i];
        const replacement = c === '.' ? 'A' : ALPHABET[(ALPHABET.indexOf(c) + 1) % 64];
        expect(cache.get(real.slice(0, i) + replacement + real.slice(i + 1))).toBeUndefined();
        // And the character's case flipped (base64url is case-sensitive).
        const flipped = c.toLowerCase() === c ? c.toUpperCase() : c.toLowerCase();
        if (flipped !== c) expect(cache.get(real.slice(0, i) + flipped + real.slice(i + 1))).toBeUndefined();
      }
      expect(cache.get(real)!.claims.sub).toBe('1');
    });

    it('a string equal but for characters outside ASCII', () => {
      expect(cache.get(real.replace('.', '\u2024'))).toBeUndefined();
      expect(cache.get(real + '\uD800')).toBeUndefined();
    });
  });

  it('never holds more than its memory bound, however many tokens arrive', () => {
    const cache = new VerifiedTokenCache(0.25);
    for (let i = 0; i < 6000; i++) {
      cache.get(tokenOf(i));
      cache.add(tokenOf(i), claimsOf(i));
      expect(cache.estimatedBytes).toBeLessThanOrEqual(cache.maxBytes);
    }
    expect(cache.size).toBeGreaterThan(1000);
    expect(cache.size).toBeLessThan(6000);
  });

  it('holds 200,000 login-shaped tokens in the default 32 MiB', () => {
    const cache = new VerifiedTokenCache();
    for (let i = 0; i < 200_000; i++) {
      const token = `${HEADER}.${i.toString(36)}.${i}`;
      cache.add(token, {
        ...claimsOf(i),
        sub: String(100000 + i),
        sid: `s${i.toString(36).padStart(8, '0')}`,
        jti: `${createHash('md5').update(String(i)).digest('base64url')}.at`,
      });
    }
    expect(cache.size).toBe(200_000);
    expect(cache.estimatedBytes).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(cache.get(`${HEADER}.${(0).toString(36)}.0`)!.claims.sub).toBe('100000');
    expect(cache.get(`${HEADER}.${(199_999).toString(36)}.199999`)!.claims.sub).toBe('299999');
  });

  it('keeps a 20,000-user working set built in the default bound: from the first hit on, every hit is the same frozen entry', () => {
    const cache = new VerifiedTokenCache();
    const users = 20_000;
    for (let i = 0; i < users; i++) cache.add(tokenOf(i), claimsOf(i));
    // Round robin, the worst case for a small tier: each user comes back only after every other one.
    for (let i = 0; i < users; i++) cache.get(tokenOf(i));
    expect(cache.builtSize).toBe(users);
    expect(cache.estimatedBytes).toBeLessThanOrEqual(cache.maxBytes);
    for (let i = 0; i < users; i++) {
      const hit = cache.get(tokenOf(i))!;
      expect(cache.get(tokenOf(i))).toBe(hit);
      expect(Object.isFrozen(hit.claims)).toBe(true);
      expect(hit.claims.sub).toBe(String(i));
    }
    expect(cache.get(tokenOf(users))).toBeUndefined();
  });

  it('lets new compact entries take the memory of built ones, and stays within its bound', () => {
    const cache = new VerifiedTokenCache(2);
    const built = 2_000;
    for (let i = 0; i < built; i++) cache.add(tokenOf(i), claimsOf(i));
    for (let i = 0; i < built; i++) cache.get(tokenOf(i));
    const before = cache.builtSize;
    expect(before).toBeGreaterThan(1000);
    // Many more users, each verified once: they take the memory the built entries held.
    for (let i = built; i < 40_000; i++) {
      cache.get(tokenOf(i));
      cache.add(tokenOf(i), claimsOf(i));
      expect(cache.estimatedBytes).toBeLessThanOrEqual(cache.maxBytes);
    }
    expect(cache.builtSize).toBeLessThan(before);
    expect(cache.size).toBeGreaterThan(built * 4);
    // Whatever stayed built still answers for its own token only.
    for (let i = 0; i < built; i++) {
      const hit = cache.get(tokenOf(i));
      if (hit !== undefined) expect(hit.claims.sub).toBe(String(i));
    }
  });

  it('counts each built entry at least the heap its own claims take: a larger claim, a larger count', () => {
    // Each built entry holds its own copy of every string claim (materialized from the compact text):
    // a 480-character claim is at least 496 bytes of heap (16 of header) in every one of them.
    const note = 'n'.repeat(480);
    const cache = new VerifiedTokenCache(2);
    const users = 600;
    for (let i = 0; i < users; i++) cache.add(tokenOf(i), { ...claimsOf(i), note });
    const compact = cache.estimatedBytes;
    for (let i = 0; i < users; i++) cache.get(tokenOf(i));
    expect(cache.builtSize).toBe(users);
    // Beyond the reserve (a sixteenth of the bound, counted in the fixed part), every built byte counts.
    const reserve = cache.maxBytes / 16;
    expect(cache.estimatedBytes - compact).toBeGreaterThanOrEqual(users * 496 - reserve);
    expect(cache.estimatedBytes).toBeLessThanOrEqual(cache.maxBytes);
    for (let i = 0; i < users; i += 97) expect(cache.get(tokenOf(i))!.claims.note).toBe(note);
  });

  it('stops keeping entries built short of the bound, and a larger newcomer takes the room of as many built entries as it needs', () => {
    const cache = new VerifiedTokenCache(1);
    // The tier gives way a sixteenth before the bound: V8's pages are never full of the objects counted.
    const tier = cache.maxBytes - cache.maxBytes / 16;
    const users = 3000;
    for (let i = 0; i < users; i++) cache.add(tokenOf(i), claimsOf(i));
    for (let i = 0; i < users; i++) {
      cache.get(tokenOf(i));
      expect(cache.estimatedBytes).toBeLessThanOrEqual(tier);
    }
    const before = cache.builtSize;
    expect(before).toBeGreaterThan(500);
    expect(before).toBeLessThan(users);
    // A user asked for far more often than the built ones, whose claims take more than two of theirs.
    const big = 9_000_000;
    const claims = { ...claimsOf(big), note: 'n'.repeat(480) };
    for (let k = 0; k < 8; k++) cache.get(tokenOf(big));
    cache.add(tokenOf(big), claims);
    const hit = cache.get(tokenOf(big))!;
    expect(cache.get(tokenOf(big))).toBe(hit);
    expect(hit.claims).toEqual(claims);
    expect(cache.builtSize).toBeLessThan(before);
    expect(cache.estimatedBytes).toBeLessThanOrEqual(tier);
    // Claims of every size, asked for again and again: never over the bound, every hit its own token's.
    for (let i = 0; i < 4000; i++) {
      const u = 10_000_000 + (i % 700);
      const extra = { ...claimsOf(u), note: 'x'.repeat((u % 7) * 150) };
      const got = cache.get(tokenOf(u));
      if (got === undefined) cache.add(tokenOf(u), extra);
      else expect(got.claims).toEqual(extra);
      expect(cache.estimatedBytes).toBeLessThanOrEqual(cache.maxBytes);
    }
  });

  it('never serves a built entry for the token that takes its slot next', () => {
    const cache = new VerifiedTokenCache(1);
    cache.add(tokenOf(1), claimsOf(1));
    const built = cache.get(tokenOf(1))!;
    expect(cache.get(tokenOf(1))).toBe(built);
    // Freed and taken at once by another token (the free list gives back the slot just freed).
    cache.delete(tokenOf(1));
    cache.add(tokenOf(2), claimsOf(2));
    for (let k = 0; k < 3; k++) {
      const hit = cache.get(tokenOf(2))!;
      expect(hit).not.toBe(built);
      expect(hit.claims.sub).toBe('2');
    }
    expect(cache.get(tokenOf(1))).toBeUndefined();
    // And a token added again (replaced) is rebuilt from what it was given the second time.
    cache.get(tokenOf(2));
    cache.add(tokenOf(2), { ...claimsOf(2), username: 'renamed' });
    cache.get(tokenOf(2));
    expect(cache.get(tokenOf(2))!.claims.username).toBe('renamed');
  });

  it('checks exp on every hit of a built entry too', () => {
    const clock = new Clock();
    const cache = new VerifiedTokenCache(1, 0, clock.now);
    cache.add(tokenOf(1), claimsOf(1, clock.seconds + 10));
    const built = cache.get(tokenOf(1))!;
    expect(cache.get(tokenOf(1))).toBe(built);
    clock.seconds += 10;
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(cache.builtSize).toBe(0);
  });

  it('keeps active users through a scan of one-off tokens (frequency admission)', () => {
    const cache = new VerifiedTokenCache(0.25);
    const capacity = fill(cache, 0, 10_000);
    const hot = Array.from({ length: 20 }, (_, i) => 1_000_000 + i);
    const request = (u: number) => {
      const hit = cache.get(tokenOf(u));
      if (hit === undefined) cache.add(tokenOf(u), claimsOf(u));
      return hit !== undefined;
    };
    // The active users get in within a few requests each, as a session makes them.
    for (let round = 0; round < 4; round++) for (const u of hot) request(u);
    for (const u of hot) expect(request(u)).toBe(true);
    // Ten times the capacity in one-off tokens, the active users going on at 1 request in 50:
    // every one of their requests stays a hit.
    let misses = 0;
    for (let i = 0; i < capacity * 10; i++) {
      request(2_000_000 + i);
      if (i % 50 === 0) for (const u of hot) if (!request(u)) misses++;
    }
    expect(misses).toBe(0);
  });

  it('lets a newly active user in once it is asked for more than what it would displace', () => {
    const cache = new VerifiedTokenCache(0.25);
    fill(cache, 0, 10_000);
    const fresh = 5_000_000;
    let admittedAfter = 0;
    for (let request = 1; request <= 5 && admittedAfter === 0; request++) {
      if (cache.get(tokenOf(fresh)) !== undefined) admittedAfter = request - 1;
      else cache.add(tokenOf(fresh), claimsOf(fresh));
    }
    expect(admittedAfter).toBeGreaterThan(0);
    expect(admittedAfter).toBeLessThanOrEqual(3);
  });

  it('checks exp on every hit, with the clock tolerance', () => {
    const clock = new Clock();
    const cache = new VerifiedTokenCache(1, 5, clock.now);
    cache.add(tokenOf(1), claimsOf(1, clock.seconds + 10));
    clock.seconds += 14.9;
    expect(cache.get(tokenOf(1))).toBeDefined();
    clock.seconds += 0.1;
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts expired entries first, even ones asked for often', () => {
    const clock = new Clock();
    const cache = new VerifiedTokenCache(0.25, 0, clock.now);
    const capacity = fill(cache, 0, 10_000);
    const survivors = [];
    for (let i = 0; i < 10_000 && survivors.length < 20; i++) if (cache.get(tokenOf(i))) survivors.push(i);
    // One held token that will expire, asked for many times.
    const short = 3_000_000;
    for (let k = 0; k < 10; k++) cache.get(tokenOf(short));
    cache.add(tokenOf(short), claimsOf(short, clock.seconds + 1));
    expect(cache.get(tokenOf(short))).toBeDefined();
    clock.seconds += 2;
    // A full turn of new tokens: the expired one goes, whatever its frequency.
    fill(cache, 4_000_000, capacity * 2);
    expect(cache.get(tokenOf(short))).toBeUndefined();
  });

  it('deletes on request and replaces a token added twice', () => {
    const cache = new VerifiedTokenCache(1);
    cache.add(tokenOf(1), claimsOf(1));
    cache.add(tokenOf(1), { ...claimsOf(1), username: 'renamed' });
    expect(cache.size).toBe(1);
    expect(cache.get(tokenOf(1))!.claims.username).toBe('renamed');
    cache.delete(tokenOf(2));
    expect(cache.size).toBe(1);
    cache.delete(tokenOf(1));
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps every entry findable through many removals (the index has no tombstones)', () => {
    const cache = new VerifiedTokenCache(2);
    for (let i = 0; i < 3000; i++) cache.add(tokenOf(i), claimsOf(i));
    for (let i = 0; i < 3000; i += 3) cache.delete(tokenOf(i));
    for (let i = 0; i < 3000; i++) {
      const hit = cache.get(tokenOf(i));
      if (i % 3 === 0) expect(hit).toBeUndefined();
      else expect(hit?.claims.sub).toBe(String(i));
    }
    expect(cache.size).toBe(2000);
  });

  it('caches nothing with a bound of 0, and refuses a bound that is not a number', () => {
    const cache = new VerifiedTokenCache(0);
    expect(cache.add(tokenOf(1), claimsOf(1)).claims.sub).toBe('1');
    expect(cache.get(tokenOf(1))).toBeUndefined();
    expect(cache.estimatedBytes).toBe(0);
    expect(() => new VerifiedTokenCache(Number.NaN)).toThrow(RangeError);
    expect(() => new VerifiedTokenCache(-1)).toThrow(RangeError);
  });
});
