import { hash } from 'node:crypto';
import type { VerifiedClaims } from '../tokens/token.types.js';

/** `jwt.verifiedTokenCacheMb` when not set: about 240,000 access tokens as login issues them (≈ 140 bytes each). */
export const DEFAULT_VERIFIED_TOKEN_CACHE_MB = 32;

export interface CachedVerification {
  claims: Readonly<VerifiedClaims>;
  /** The `permissions` claim as strings, read once (frozen, shared by every token with the same list). */
  permissions: readonly string[];
}

/**
 * Heap bytes a slot costs in the fixed arrays, whether used or not: the digest (16), exp and iat (16),
 * shape, permissions, size (12), flags and reference bit (2), the values pointer (8) and the free
 * stack (4). The open-addressing table adds 4 bytes per table cell (2 to 4 cells a slot).
 */
const SLOT_BYTES = 58;
/** A one-byte string's header on 64-bit V8 (map, hash, length), rounded to 8 with its characters. */
const STRING_HEADER = 16;
const FIRST_CAPACITY = 64;
/** Interned permission lists and claim-name lists: a few roles and token shapes per app; beyond that entries carry their own. */
const MAX_INTERNED = 1024;
/**
 * The hot tier: the latest hits kept materialized (a frozen entry), direct-mapped by digest, so the
 * most active users cost no rebuilding. An entry's estimated heap (claims object, its strings, the
 * wrapper), counted for every cell whether used or not.
 */
const HOT_ENTRY_BYTES = 320;
const MAX_HOT = 4096;
/** Counters of the frequency sketch saturate here (4 bits). */
const MAX_COUNT = 15;

/** Flag bits for the two boolean claims the principal reads. */
const STAFF_PRESENT = 1;
const STAFF_TRUE = 2;
const SUPER_PRESENT = 4;
const SUPER_TRUE = 8;

/** `perms[slot]`: no `permissions` claim; the claim is kept with the other values (not a list of strings, or too many lists). */
const NO_PERMISSIONS = -1;
const PERMISSIONS_IN_VALUES = -2;
/** `shapes[slot]`: the values are a JSON object, not an array in the order of an interned name list. */
const OBJECT_SHAPE = -1;

/**
 * Tokens that passed the strict verifier, kept compact and found by a digest of the whole token.
 *
 * - **Key**: the first 128 bits of SHA-256 over the token. The token text is never held: an entry is
 *   found only by a string whose digest matches, that is (up to a 2^-128 chance) the very token that
 *   was verified; a token differing in any character, anywhere, is a different key.
 * - **Entry**: what a verified token yields, not the token: `exp` and `iat` as numbers, the boolean
 *   claims as bits, the `permissions` list interned (every token of a role shares one frozen array),
 *   the names of the other claims interned as a shape, and their values as one short JSON array string.
 *   A login-issued token costs ≈ 140 bytes (it cost ≈ 830 as text plus parsed claims), so the default
 *   32 MiB holds ≈ 240,000 users. A hit rebuilds a fresh claims object (≈ 0.5 µs, no crypto, no
 *   validation to redo: the values came out of the strict parser).
 * - **Bound**: `maxMb` of heap, counting the fixed arrays (allocated, not just used), the sketch, the
 *   interned lists and each entry's string; the arrays grow only while the bound allows.
 * - **Admission** (TinyLFU): a count-min sketch counts every look-up by digest (4-bit counters, eight
 *   per entry the bound can hold, all halved every half-width requests, so old popularity fades). When full, CLOCK proposes a victim (an expired
 *   entry goes at once; a referenced one gets a second chance); the new token takes its place only if
 *   it has been asked for more often. A scan of one-off tokens then passes through without displacing
 *   active users, and a new active user gets in on its next request or two.
 *
 * Only verified tokens enter, so the cache cannot be filled by forgeries. `exp` is checked on every
 * hit; revocation is the caller's, on every request, over the claims a hit returns.
 */
export class VerifiedTokenCache {
  readonly maxBytes: number;
  private capacity = 0;
  private count = 0;
  /** 4 int32 words of digest per slot. */
  private keys = new Int32Array(0);
  private exps = new Float64Array(0);
  private iats = new Float64Array(0);
  private shapes = new Int32Array(0);
  private perms = new Int32Array(0);
  private sizes = new Int32Array(0);
  private flags = new Uint8Array(0);
  private referenced = new Uint8Array(0);
  private values: Array<string | undefined> = [];
  private freeSlots = new Int32Array(0);
  private freeTop = 0;
  /** Open addressing, linear probing: slot + 1, 0 for empty. */
  private table = new Int32Array(0);
  private mask = 0;
  private hand = 0;
  /** Bytes of the entries' own strings. */
  private entryBytes = 0;
  private internedBytes = 0;
  private readonly hotSlots: Int32Array;
  private readonly hotEntries: Array<CachedVerification | undefined>;
  private readonly hotMask: number;
  private readonly sketch: Uint8Array;
  private readonly sketchMask: number;
  private samples = 0;
  private readonly sampleLimit: number;
  private readonly shapeIds = new Map<string, number>();
  private readonly shapeNames: string[][] = [];
  private readonly permIds = new Map<string, number>();
  private readonly permLists: Array<readonly string[]> = [];
  private lastPerms = -1;
  private lastShape = -1;
  /** The digest of the last token looked up, so the add() after a miss does not hash it again. */
  private lastToken: string | undefined;
  private d0 = 0;
  private d1 = 0;
  private d2 = 0;
  private d3 = 0;

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
    // Eight 4-bit counters for every entry the bound could hold (≈ 128 bytes each), two to a byte.
    const counters = this.maxBytes === 0 ? 2 : pow2AtLeast(Math.min(Math.max(this.maxBytes >>> 4, 64), 1 << 24));
    this.sketch = new Uint8Array(this.maxBytes === 0 ? 0 : counters >>> 1);
    this.sketchMask = counters - 1;
    // Halve after half as many requests as counters: about 2 counts of noise per counter at most.
    this.sampleLimit = counters >>> 1;
    // Up to a sixteenth of the bound for the hot tier.
    let hot = MAX_HOT;
    while (hot > 0 && hot * (HOT_ENTRY_BYTES + 12) > this.maxBytes / 16) hot >>>= 1;
    this.hotSlots = new Int32Array(hot).fill(-1);
    this.hotEntries = new Array<CachedVerification | undefined>(hot).fill(undefined);
    this.hotMask = hot - 1;
  }

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  /** The estimated heap the cache holds, in bytes (never above `maxBytes`). */
  get estimatedBytes(): number {
    return this.fixedBytes(this.capacity) + this.entryBytes + this.internedBytes;
  }

  /** A token the verifier passed whose `exp` still holds, else undefined (and an expired one is dropped). */
  get(token: string): CachedVerification | undefined {
    if (this.maxBytes === 0) return undefined;
    this.digest(token);
    this.touch();
    if (this.count === 0) return undefined;
    const slot = this.find(this.d0, this.d1, this.d2, this.d3);
    if (slot < 0) return undefined;
    if (this.now() - this.clockTolerance >= this.exps[slot]) {
      this.remove(slot);
      return undefined;
    }
    this.referenced[slot] = 1;
    if (this.hotMask < 0) return this.materialize(slot);
    const cell = this.d1 & this.hotMask;
    if (this.hotSlots[cell] === slot) return this.hotEntries[cell]!;
    const entry = this.materialize(slot);
    // Shared by the requests that hit it while it stays hot: frozen.
    Object.freeze(entry.claims);
    this.hotSlots[cell] = slot;
    this.hotEntries[cell] = entry;
    return entry;
  }

  /** Records a verified token; returns its entry (whether the cache admitted it or not). */
  add(token: string, claims: VerifiedClaims): CachedVerification {
    if (this.maxBytes === 0) return { claims, permissions: frozenStrings(claims.permissions) };
    if (token !== this.lastToken) {
      this.digest(token);
      this.touch();
    }
    this.lastToken = undefined;
    const { d0, d1, d2, d3 } = this;
    const held = this.find(d0, d1, d2, d3);
    if (held >= 0) this.remove(held);
    // Admission before any encoding: when full, a newcomer asked for less than the victim goes no further.
    if (!this.admit()) return { claims, permissions: frozenStrings(claims.permissions) };
    const encoded = this.encode(claims);
    const entry: CachedVerification = {
      claims,
      permissions: encoded.perms >= 0 ? this.permLists[encoded.perms] : frozenStrings(claims.permissions),
    };
    const size = stringBytes(encoded.text);
    if (!this.makeRoom(size)) return entry;
    const slot = this.freeSlots[--this.freeTop];
    const k = slot * 4;
    this.keys[k] = d0;
    this.keys[k + 1] = d1;
    this.keys[k + 2] = d2;
    this.keys[k + 3] = d3;
    this.exps[slot] = claims.exp;
    this.iats[slot] = claims.iat;
    this.shapes[slot] = encoded.shape;
    this.perms[slot] = encoded.perms;
    this.flags[slot] = encoded.flags;
    this.sizes[slot] = size;
    this.values[slot] = encoded.text;
    // New entries start unreferenced: a token seen once goes before one seen twice.
    this.referenced[slot] = 0;
    this.insertIndex(slot, d0);
    this.count++;
    this.entryBytes += size;
    return entry;
  }

  delete(token: string): void {
    if (this.count === 0) return;
    this.digest(token);
    const slot = this.find(this.d0, this.d1, this.d2, this.d3);
    if (slot >= 0) this.remove(slot);
  }

  // ------------------------------------------------------------ digest and sketch

  /** SHA-256 of the whole token, first 128 bits, into d0..d3. */
  private digest(token: string): void {
    if (token === this.lastToken) return;
    // A latin1 string of the 32 digest bytes: the cheapest output of the one-shot hash.
    const h = hash('sha256', token, 'binary');
    this.d0 = word(h, 0);
    this.d1 = word(h, 4);
    this.d2 = word(h, 8);
    this.d3 = word(h, 12);
    this.lastToken = token;
  }

  /** Counts one request for the digest in d0..d3. */
  private touch(): void {
    const m = this.sketchMask;
    increment(this.sketch, this.d1 & m);
    increment(this.sketch, this.d2 & m);
    increment(this.sketch, this.d3 & m);
    increment(this.sketch, ((this.d1 >>> 16) ^ (this.d2 << 16) ^ this.d3) & m);
    if (++this.samples >= this.sampleLimit) {
      // Aging: halve every counter, so what was popular long ago does not hold its place for ever.
      const s = this.sketch;
      for (let i = 0; i < s.length; i++) s[i] = (s[i] >>> 1) & 0x77;
      this.samples = 0;
    }
  }

  /** The count-min estimate: the least of the digest's four counters. */
  private frequency(d1: number, d2: number, d3: number): number {
    const s = this.sketch;
    const m = this.sketchMask;
    return Math.min(counter(s, d1 & m), counter(s, d2 & m), counter(s, d3 & m), counter(s, ((d1 >>> 16) ^ (d2 << 16) ^ d3) & m));
  }

  // ------------------------------------------------------------ slots and index

  private find(d0: number, d1: number, d2: number, d3: number): number {
    if (this.count === 0) return -1;
    const table = this.table;
    const keys = this.keys;
    const mask = this.mask;
    for (let i = d0 & mask; ; i = (i + 1) & mask) {
      const s = table[i];
      if (s === 0) return -1;
      const k = (s - 1) * 4;
      if (keys[k] === d0 && keys[k + 1] === d1 && keys[k + 2] === d2 && keys[k + 3] === d3) return s - 1;
    }
  }

  private insertIndex(slot: number, d0: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = d0 & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = slot + 1;
  }

  private remove(slot: number): void {
    const keys = this.keys;
    const table = this.table;
    const mask = this.mask;
    let i = keys[slot * 4] & mask;
    while (table[i] !== slot + 1) i = (i + 1) & mask;
    // Backward-shift deletion: later entries of the probe run move up, so no tombstones are needed.
    for (let j = (i + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = keys[(table[j] - 1) * 4] & mask;
      // Move the entry at j into the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (!stays) {
        table[i] = table[j];
        i = j;
      }
    }
    table[i] = 0;
    if (this.hotMask >= 0) {
      // The slot will hold another token: its materialized entry must never be served for it.
      const cell = keys[slot * 4 + 1] & this.hotMask;
      if (this.hotSlots[cell] === slot) {
        this.hotSlots[cell] = -1;
        this.hotEntries[cell] = undefined;
      }
    }
    this.values[slot] = undefined;
    this.entryBytes -= this.sizes[slot];
    this.sizes[slot] = 0;
    this.count--;
    this.freeSlots[this.freeTop++] = slot;
  }

  /** A free slot and `size` bytes under the bound, by growing or by evicting; false when the newcomer loses admission. */
  /** Room for one more entry: a free slot (growing if the bound allows), or a victim that loses to the newcomer. */
  private admit(): boolean {
    if (this.freeTop === 0) this.grow(128);
    if (this.freeTop > 0) return true;
    if (this.count === 0) return false;
    const victim = this.victim();
    const k = victim * 4;
    const expired = this.now() - this.clockTolerance >= this.exps[victim];
    if (!expired && this.frequency(this.d1, this.d2, this.d3) <= this.frequency(this.keys[k + 1], this.keys[k + 2], this.keys[k + 3])) return false;
    this.remove(victim);
    return true;
  }

  private makeRoom(size: number): boolean {
    if (this.fixedBytes(1) + size > this.maxBytes) return false;
    if (this.freeTop === 0) this.grow(size);
    const candidate = this.frequency(this.d1, this.d2, this.d3);
    while (this.freeTop === 0 || this.estimatedBytes + size > this.maxBytes) {
      if (this.count === 0) return false;
      const victim = this.victim();
      const k = victim * 4;
      const expired = this.now() - this.clockTolerance >= this.exps[victim];
      if (!expired && candidate <= this.frequency(this.keys[k + 1], this.keys[k + 2], this.keys[k + 3])) return false;
      this.remove(victim);
    }
    return true;
  }

  /** CLOCK: the first expired or unreferenced entry from the hand on; referenced ones lose their bit and get a second chance. */
  private victim(): number {
    const now = this.now() - this.clockTolerance;
    for (let steps = 0; steps < 2 * this.capacity + 1; steps++) {
      const slot = this.hand;
      this.hand = slot + 1 === this.capacity ? 0 : slot + 1;
      if (this.values[slot] === undefined) continue;
      if (this.referenced[slot] === 0 || now >= this.exps[slot]) return slot;
      this.referenced[slot] = 0;
    }
    throw new Error('VerifiedTokenCache: over its bound with nothing to evict');
  }

  /** Bytes the fixed arrays take for `capacity` slots, with the sketch. */
  private fixedBytes(capacity: number): number {
    return capacity * SLOT_BYTES + tableSizeFor(capacity) * 4 + this.sketch.length + this.hotSlots.length * (HOT_ENTRY_BYTES + 12);
  }

  /** Doubles the slots (or less) while the arrays, the entries held and one more average entry per slot fit the bound. */
  private grow(size: number): void {
    const average = this.count > 0 ? this.entryBytes / this.count : size;
    let next = this.capacity === 0 ? FIRST_CAPACITY : this.capacity * 2;
    while (next > this.capacity && this.fixedBytes(next) + this.entryBytes + this.internedBytes + (next - this.count) * average > this.maxBytes) {
      next = Math.floor((next + this.capacity) / 2);
      // Not worth copying every array for a few slots.
      if (next - this.capacity < Math.max(16, this.capacity >>> 5)) next = this.capacity;
    }
    if (next <= this.capacity) {
      // No room to grow: only the smallest first allocation, so a tiny bound still holds a few entries.
      if (this.capacity > 0) return;
      next = Math.max(1, Math.floor((this.maxBytes - this.fixedBytes(0)) / (SLOT_BYTES + 16 + size)));
    }
    const old = this.capacity;
    this.keys = resized(this.keys, new Int32Array(next * 4));
    this.exps = resized(this.exps, new Float64Array(next));
    this.iats = resized(this.iats, new Float64Array(next));
    this.shapes = resized(this.shapes, new Int32Array(next));
    this.perms = resized(this.perms, new Int32Array(next));
    this.sizes = resized(this.sizes, new Int32Array(next));
    this.flags = resized(this.flags, new Uint8Array(next));
    this.referenced = resized(this.referenced, new Uint8Array(next));
    // Pushed, not `length =`: the array stays packed (a long hole can turn it into a dictionary).
    for (let s = old; s < next; s++) this.values.push(undefined);
    const free = new Int32Array(next);
    free.set(this.freeSlots.subarray(0, this.freeTop));
    // New slots are taken lowest first.
    for (let s = next - 1; s >= old; s--) free[this.freeTop++] = s;
    this.freeSlots = free;
    this.capacity = next;
    this.table = new Int32Array(tableSizeFor(next));
    this.mask = this.table.length - 1;
    for (let s = 0; s < old; s++) if (this.values[s] !== undefined) this.insertIndex(s, this.keys[s * 4]);
  }

  // ------------------------------------------------------------ entries

  /** The compact form of verified claims. */
  private encode(claims: VerifiedClaims): { shape: number; perms: number; flags: number; text: string } {
    let flags = 0;
    let perms = NO_PERMISSIONS;
    const names: string[] = [];
    const values: unknown[] = [];
    let plain = true;
    for (const name of Object.keys(claims)) {
      const value = claims[name];
      if (name === 'exp' || name === 'iat') continue;
      if (name === 'is_staff' && typeof value === 'boolean') flags |= STAFF_PRESENT | (value ? STAFF_TRUE : 0);
      else if (name === 'is_superuser' && typeof value === 'boolean') flags |= SUPER_PRESENT | (value ? SUPER_TRUE : 0);
      else if (name === 'permissions' && (perms = this.permissionsId(value)) !== PERMISSIONS_IN_VALUES) continue;
      else {
        // A name JSON.parse keeps as an own property but an assignment would treat as the prototype.
        if (name === '__proto__') plain = false;
        names.push(name);
        values.push(value);
      }
    }
    const shape = plain ? this.shapeId(names) : OBJECT_SHAPE;
    if (shape === OBJECT_SHAPE) {
      const rest: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++)
        Object.defineProperty(rest, names[i], { value: values[i], enumerable: true, writable: true, configurable: true });
      return { shape, perms, flags, text: JSON.stringify(rest) };
    }
    return { shape, perms, flags, text: JSON.stringify(values) };
  }

  /** A new claims object from the slot's compact form. */
  private materialize(slot: number): CachedVerification {
    const shape = this.shapes[slot];
    let claims: Record<string, unknown>;
    if (shape === OBJECT_SHAPE) {
      claims = JSON.parse(this.values[slot]!) as Record<string, unknown>;
    } else {
      const values = JSON.parse(this.values[slot]!) as unknown[];
      const names = this.shapeNames[shape];
      claims = {};
      for (let i = 0; i < names.length; i++) claims[names[i]] = values[i];
    }
    claims.iat = this.iats[slot];
    claims.exp = this.exps[slot];
    const flags = this.flags[slot];
    if (flags & STAFF_PRESENT) claims.is_staff = (flags & STAFF_TRUE) !== 0;
    if (flags & SUPER_PRESENT) claims.is_superuser = (flags & SUPER_TRUE) !== 0;
    const p = this.perms[slot];
    let permissions: readonly string[];
    if (p >= 0) {
      permissions = this.permLists[p];
      claims.permissions = permissions;
    } else permissions = p === NO_PERMISSIONS ? EMPTY : frozenStrings(claims.permissions);
    return { claims: claims as VerifiedClaims, permissions };
  }

  /** The interned list for a `permissions` claim of strings (or NO_PERMISSIONS / PERMISSIONS_IN_VALUES). */
  private permissionsId(value: unknown): number {
    if (value === undefined) return NO_PERMISSIONS;
    if (!Array.isArray(value) || !value.every((p) => typeof p === 'string')) return PERMISSIONS_IN_VALUES;
    // Most tokens in a row carry the list the last one did: compared without building its key.
    if (this.lastPerms >= 0 && sameStrings(this.permLists[this.lastPerms], value as string[])) return this.lastPerms;
    const key = JSON.stringify(value);
    let id = this.permIds.get(key);
    if (id === undefined) {
      if (this.permLists.length >= MAX_INTERNED) return PERMISSIONS_IN_VALUES;
      id = this.permLists.length;
      this.permLists.push(Object.freeze([...(value as string[])]));
      this.permIds.set(key, id);
      this.internedBytes += 2 * stringBytes(key) + 64 + 8 * value.length;
    }
    this.lastPerms = id;
    return id;
  }

  private shapeId(names: string[]): number {
    if (this.lastShape >= 0 && sameStrings(this.shapeNames[this.lastShape], names)) return this.lastShape;
    const key = JSON.stringify(names);
    let id = this.shapeIds.get(key);
    if (id === undefined) {
      if (this.shapeNames.length >= MAX_INTERNED) return OBJECT_SHAPE;
      id = this.shapeNames.length;
      this.shapeNames.push(names);
      this.shapeIds.set(key, id);
      this.internedBytes += 2 * stringBytes(key) + 64 + 8 * names.length;
    }
    this.lastShape = id;
    return id;
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** 4-bit counter i of the sketch: the low nibble of byte i/2 for even i, the high one for odd. */
function counter(sketch: Uint8Array, i: number): number {
  return (sketch[i >>> 1] >>> ((i & 1) << 2)) & 0x0f;
}

function increment(sketch: Uint8Array, i: number): void {
  const shift = (i & 1) << 2;
  const b = sketch[i >>> 1];
  if (((b >>> shift) & 0x0f) < MAX_COUNT) sketch[i >>> 1] = b + (1 << shift);
}

function frozenStrings(value: unknown): readonly string[] {
  return value === undefined ? EMPTY : Object.freeze(stringsOf(value));
}

/** 4 latin1 characters (bytes) of a digest string as an int32. */
function word(h: string, i: number): number {
  return h.charCodeAt(i) | (h.charCodeAt(i + 1) << 8) | (h.charCodeAt(i + 2) << 16) | (h.charCodeAt(i + 3) << 24);
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Table cells for a capacity: a power of two at least twice it (load ≤ 0.5, short probe runs). */
function tableSizeFor(capacity: number): number {
  return capacity === 0 ? 0 : pow2AtLeast(capacity * 2);
}

/** Heap bytes of a string JSON.stringify made: header plus one byte a character (two beyond latin1), rounded to 8. */
function stringBytes(s: string): number {
  const perChar = /[^\u0000-\u00ff]/.test(s) ? 2 : 1;
  return (STRING_HEADER + perChar * s.length + 7) & ~7;
}

function resized<T extends Float64Array | Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from.subarray(0, Math.min(from.length, to.length)) as never);
  return to;
}

/** The claim as an array of strings: the array itself when it already is one, else its strings. */
function stringsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') return value.filter((p): p is string => typeof p === 'string');
  }
  return value as string[];
}

/** The heap an entry's own string takes, as the cache counts it (tests and the benchmark). */
export function entryStringBytes(text: string): number {
  return stringBytes(text);
}
