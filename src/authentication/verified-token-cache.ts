import type { VerifiedClaims } from '../tokens/token.types.js';

/** `jwt.verifiedTokenCacheMb` when not set: about 30,000 HS256 or 24,000 RS256 access tokens as login issues them. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_MB = 32;

/**
 * Bytes an entry costs beyond its token string and the decoded payload: the
 * Map entry, the slot, the entry and claims objects. Set from
 * bench/cache-memory.mjs on Node 20 (x64): the estimate runs ~30 % above the
 * measured heap per entry, so the bound holds for resident memory too
 * (200,000 distinct HS256 tokens in 32 MiB: 24 MiB of heap, 26 MiB of RSS).
 */
const ENTRY_OVERHEAD_BYTES = 460;
/** A decoded claim costs about this many heap bytes per base64url character of the payload. */
const PAYLOAD_BYTES_PER_CHAR = 1.25;

export interface CachedVerification {
  claims: Readonly<VerifiedClaims>;
  /** The `permissions` claim as strings, read once. */
  permissions: readonly string[];
}

/**
 * Tokens that passed the strict verifier, found by a short key cut from the
 * signature and confirmed by comparing the whole token string:
 * a client sends the same token on every request until it expires, and a hit
 * skips the signature and the parsing. Only verified tokens enter, so the
 * cache cannot be filled by forgeries; revocation is checked on every request
 * whatever the cache says.
 *
 * Bounded by memory, not by count (tokens differ in size by algorithm and
 * claims): `maxMb` of heap at most, by a conservative per-entry estimate.
 * Eviction is CLOCK (second chance): a hit only sets a bit, so hot tokens
 * survive a scan of cold ones and a hit never reorders a Map; the Map is
 * never iterated (deleting from the front of a large Map leaves holes that
 * `keys().next()` walks on every eviction). An entry is dropped at its `exp`:
 * on look-up, and when the clock hand passes it.
 */
export class VerifiedTokenCache {
  /** keyOf(token) -> slot. A small-integer key: hashing it is free, where a token string would be hashed anew every request. */
  private readonly index = new Map<number, number>();
  private readonly tokens: Array<string | undefined> = [];
  private readonly values: Array<CachedVerification | undefined> = [];
  private exps = new Float64Array(1024);
  private sizes = new Uint32Array(1024);
  private referenced = new Uint8Array(1024);
  private readonly free: number[] = [];
  private hand = 0;
  private bytes = 0;
  readonly maxBytes: number;

  /**
   * @param maxMb heap bound in MiB (`jwt.verifiedTokenCacheMb`); 0 disables the cache.
   * @param clockTolerance seconds of leeway on `exp`, as the verifier's (`jwt.clockTolerance`).
   * @param now the clock in seconds (tests).
   */
  constructor(
    maxMb: number = DEFAULT_VERIFIED_TOKEN_CACHE_MB,
    private readonly clockTolerance = 0,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {
    if (!(maxMb >= 0) || !Number.isFinite(maxMb)) throw new RangeError('maxMb must be a finite number >= 0');
    this.maxBytes = Math.floor(maxMb * 1024 * 1024);
  }

  /** Entries held. */
  get size(): number {
    return this.index.size;
  }

  /** The estimated heap the entries hold, in bytes (never above `maxBytes`). */
  get estimatedBytes(): number {
    return this.bytes;
  }

  /** A token the verifier passed whose `exp` still holds, else undefined (and an expired one is dropped). */
  get(token: string): CachedVerification | undefined {
    const slot = this.index.get(keyOf(token));
    // The key is only a hint: the whole token must be the one that was verified.
    if (slot === undefined || this.tokens[slot] !== token) return undefined;
    if (this.now() - this.clockTolerance >= this.exps[slot]) {
      this.remove(slot);
      return undefined;
    }
    this.referenced[slot] = 1;
    return this.values[slot];
  }

  /** Records a verified token; returns its entry (cached or not: an entry that cannot fit is still returned). */
  add(token: string, claims: VerifiedClaims): CachedVerification {
    const entry = verificationOf(claims);
    const size = entrySize(token);
    if (size > this.maxBytes) return entry;
    const key = keyOf(token);
    // The same token again, or (about once in 10^9 pairs) another with the same key: the newer one takes the slot.
    const held = this.index.get(key);
    if (held !== undefined) this.remove(held);
    while (this.bytes + size > this.maxBytes) this.evictOne();
    const slot = this.free.length > 0 ? this.free.pop()! : this.grow();
    this.index.set(key, slot);
    this.tokens[slot] = token;
    this.values[slot] = entry;
    this.exps[slot] = claims.exp;
    this.sizes[slot] = size;
    // New entries start unreferenced: a token seen once goes before one seen twice.
    this.referenced[slot] = 0;
    this.bytes += size;
    return entry;
  }

  delete(token: string): void {
    const slot = this.index.get(keyOf(token));
    if (slot !== undefined && this.tokens[slot] === token) this.remove(slot);
  }

  /** One turn of the clock hand: the first expired or unreferenced entry goes, referenced ones get a second chance. */
  private evictOne(): void {
    const slots = this.tokens.length;
    const now = this.now() - this.clockTolerance;
    // Two full turns at most: the first clears every bit, the second must find an entry.
    for (let steps = 0; steps < 2 * slots + 1; steps++) {
      const slot = this.hand;
      this.hand = slot + 1 === slots ? 0 : slot + 1;
      if (this.tokens[slot] === undefined) continue;
      if (this.referenced[slot] === 0 || now >= this.exps[slot]) {
        this.remove(slot);
        return;
      }
      this.referenced[slot] = 0;
    }
    throw new Error('VerifiedTokenCache: over its bound with nothing to evict');
  }

  private remove(slot: number): void {
    this.index.delete(keyOf(this.tokens[slot]!));
    this.tokens[slot] = undefined;
    this.values[slot] = undefined;
    this.bytes -= this.sizes[slot];
    this.sizes[slot] = 0;
    this.free.push(slot);
  }

  /** A new slot at the end, doubling the typed arrays when they are full. */
  private grow(): number {
    const slot = this.tokens.length;
    if (slot === this.exps.length) {
      this.exps = resized(this.exps, new Float64Array(slot * 2));
      this.sizes = resized(this.sizes, new Uint32Array(slot * 2));
      this.referenced = resized(this.referenced, new Uint8Array(slot * 2));
    }
    this.tokens.push(undefined);
    this.values.push(undefined);
    return slot;
  }
}

function resized<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * 30 bits of the signature: five base64url characters before the last one
 * (whose low bits are padding). A signature is unpredictable, so keys of
 * distinct tokens collide about once in 2^30 pairs, and a collision only costs
 * a miss: a hit compares the whole token. Never used as a proof of anything.
 */
export function keyOf(token: string): number {
  const n = token.length;
  if (n < 7) return -1;
  let key = 0;
  for (let i = n - 6; i < n - 1; i++) key = (key << 6) | SIXBITS[token.charCodeAt(i) & 127];
  return key;
}

/** base64url character -> its 6-bit value (0 for anything else: a key needs no validation). */
const SIXBITS = new Uint8Array(128);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) SIXBITS[c.charCodeAt(0)] = i;

/**
 * The heap an entry holds, estimated from the token alone: the key string
 * (one byte a character, 16 of header), the claims decoded from the payload
 * segment, and the fixed cost of the Map entry, the slot and the objects.
 */
export function entrySize(token: string): number {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  const payloadChars = second > first ? second - first - 1 : token.length;
  return ENTRY_OVERHEAD_BYTES + 16 + token.length + Math.ceil(payloadChars * PAYLOAD_BYTES_PER_CHAR);
}

/** Verified claims, frozen (they may be shared by requests), with the `permissions` claim read once. */
export function verificationOf(claims: VerifiedClaims): CachedVerification {
  const perms = claims.permissions;
  return {
    claims: Object.freeze(claims),
    permissions: Object.freeze(stringsOf(perms)),
  };
}

/** The claim as an array of strings: the array itself when it already is one (the common case, no copy), else its strings. */
function stringsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') return value.filter((p): p is string => typeof p === 'string');
  }
  return value as string[];
}
