import { tokenDigest } from '../tokens/token-digest.js';
import type { VerifiedClaims } from '../tokens/token.types.js';

/** `jwt.verifiedTokenCacheMb` when not set: about 230,000 access tokens as login issues them (≈ 130 bytes each). */
export const DEFAULT_VERIFIED_TOKEN_CACHE_MB = 32;

export interface CachedVerification {
  claims: Readonly<VerifiedClaims>;
  /** The `permissions` claim as strings, read once (frozen, shared by every token with the same list). */
  permissions: readonly string[];
}

/**
 * Bytes a slot costs in the fixed arrays, whether used or not: the digest (16), exp (8), iat as
 * its distance to exp (4), shape and permissions ids (4), size or free-list link (4), flags and
 * reference bit (2), the values pointer (8), the place of its built entry (4). The open-addressing
 * table adds 4 bytes a cell (2 to 4 cells a slot).
 */
const SLOT_BYTES = 50;
/** The JSON values of a login token (sub, username, sid, jti): what the slots are sized for. */
const TYPICAL_ENTRY_BYTES = 72;
/** A one-byte string's header on 64-bit V8 (map, hash, length), rounded to 8 with its characters. */
const STRING_HEADER = 16;
/** Interned permission lists and claim-name lists: a few roles and token shapes per app; beyond that entries carry their own. */
const MAX_INTERNED = 1024;
/**
 * The object tier: entries kept built (a frozen claims object and its wrapper), so that a hit on them
 * rebuilds nothing. What one costs on the heap grows with its claims, so each is counted from its compact
 * text (builtBytesOf): this base, for what every built entry has whatever its claims (the wrapper, the
 * claims object and its property array, exp and iat as heap numbers, its places in the tier's three
 * lists), plus what the text's values become. Measured on Node 20 with `--expose-gc`: heap used after gc
 * with 40,000 entries all built minus the same 40,000 compact only, per entry, against what is counted:
 * login claims 319 (counted 350), eight string claims 462 (538), nested roles objects as Keycloak's 806
 * (1,113), a 480-character claim 854 (866), non-Latin-1 strings 415 (508), an array of numbers 454
 * (566), two claims 224 (268). The flat 336 counted before was short of five of these, by up to 490.
 */
const BUILT_ENTRY_BASE = 184;
/** A string value: header (16) and rounding to 8 (up to 7), its characters counted apart. */
const BUILT_STRING = 24;
/** A member or element: its field or element slot. */
const BUILT_SLOT = 8;
/** A nested object (header, a few fields of slack) and a nested array (JSArray and its backing store header). */
const BUILT_OBJECT = 64;
const BUILT_ARRAY = 48;
/** A number: a heap number when it is not a small integer. */
const BUILT_NUMBER = 16;
/** The reserve's unit: what a login token's built entry was counted before entries were counted by their claims (keeps the reserve at 1.3 MiB). */
const LOGIN_BUILT_BYTES = 336;
/**
 * Built entries beyond the reserve fill the bound to all but a sixteenth of it. The bound counts objects;
 * V8's pages are never full of them, and resident memory counts the pages: with the tier filling the
 * bound (32 MiB, 100,000 tokens, 32.00 estimated, 31.3 MiB of heap and buffers held) the old space had
 * about 1 MiB committed beyond its live objects, and the resident memory over the same run without the cache
 * was +28.9 to +32.4 MiB over six runs; leaving a 32nd, +29.0 to +32.0 (bench/cache-memory.mjs).
 * A built entry only saves a rebuild: the tier gives way first.
 */
const TIER_SLACK = 16;
/** Built entries always allowed, reserved in the bound (up to a sixteenth of it): the most requested users' when memory is short. In login-token units. */
const MAX_RESERVED_BUILT = 4096;
/** Counters of the frequency sketch saturate here (4 bits). */
const MAX_COUNT = 15;

/** Flag bits for the two boolean claims the principal reads. */
const STAFF_PRESENT = 1;
const STAFF_TRUE = 2;
const SUPER_PRESENT = 4;
const SUPER_TRUE = 8;
/** `iat` is not an integer within 2^32 s before `exp`: it is kept with the other values. */
const IAT_IN_VALUES = 16;

/** `perms[slot]`: no `permissions` claim; the claim is kept with the other values (not a list of strings, or too many lists). */
const NO_PERMISSIONS = 0xffff;
const PERMISSIONS_IN_VALUES = 0xfffe;
/** `shapes[slot]`: the values are a JSON object, not an array in the order of an interned name list. */
const OBJECT_SHAPE = 0xffff;

/**
 * Tokens that passed the strict verifier, kept compact and found by a digest of the whole token.
 *
 * - **Key**: the first 128 bits of SHA-256 over the token. No entry holds the token text (only the
 *   last token looked up is remembered, so the insert after a miss does not hash it again): an entry
 *   is found only by a string whose digest matches, that is (up to a 2^-128 chance) the very token
 *   that was verified; a token differing in any character, anywhere, is a different key.
 * - **Entry**: what a verified token yields, not the token: `exp` and `iat` as numbers, the boolean
 *   claims as bits, the `permissions` list interned (every token of a role shares one frozen array),
 *   the names of the other claims interned as a shape, and their values as one short JSON array string.
 *   A login-issued token costs ≈ 130 bytes (it cost ≈ 830 as text plus parsed claims), so the default
 *   32 MiB holds ≈ 230,000 users. A hit on a compact entry rebuilds its claims object (no crypto, no
 *   validation to redo: the values came out of the strict parser).
 * - **Object tier**: from its first hit on, an entry is also kept built (its claims object frozen,
 *   shared by the token's later requests), for as many entries as the bound leaves room for beside the
 *   compact ones (each counted from its claims: ≈ 350 bytes for a login token, more for larger claims;
 *   20,000 active users take ≈ 7 MiB of the 32), plus a reserve of 1.3 MiB (4,096 login tokens, at most a
 *   sixteenth of the bound) that stays when the compact entries fill the rest. Built entries
 *   beyond the reserve give way first when a compact entry needs the room; when the tier is full, a
 *   newly hit token replaces a built entry only if the sketch says it is asked for more often (so the
 *   most active users keep theirs, and users taking turns do not churn them).
 * - **Bound**: `maxMb`, counting the fixed arrays (sized once, on the first entry, for as many login
 *   tokens as the bound holds, and counted whole), the sketch, the reserve of built entries and those
 *   beyond it, the interned lists and each entry's string. Sized once: growing would leave the old
 *   arrays to the allocator, resident memory the bound does not see. Larger entries mean fewer of them:
 *   eviction goes by bytes too.
 * - **Admission** (TinyLFU): a count-min sketch counts every look-up by digest (4-bit counters, eight
 *   per entry the bound can hold, all halved every half-width requests, so old popularity fades).
 *   When full, CLOCK proposes a victim (an expired entry goes at once; a referenced one gets a second
 *   chance); the new token takes its place only if it has been asked for more often. A scan of one-off tokens then passes through without displacing
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
  /** exp - iat. */
  private lifetimes = new Uint32Array(0);
  private shapes = new Uint16Array(0);
  private perms = new Uint16Array(0);
  /** An entry's string bytes; for a free slot, the next free slot + 1 (0: none). */
  private sizes = new Int32Array(0);
  private flags = new Uint8Array(0);
  private referenced = new Uint8Array(0);
  private values: Array<string | undefined> = [];
  /** The first free slot + 1 (0: none). */
  private freeHead = 0;
  private readonly slots: number;
  /** Open addressing, linear probing: slot + 1, 0 for empty. */
  private table = new Int32Array(0);
  private mask = 0;
  private hand = 0;
  /** Bytes of the entries' own strings. */
  private entryBytes = 0;
  private internedBytes = 0;
  /** Per slot: the index of its built entry in builtEntries / builtSlots, -1 for none. */
  private builtPos = new Int32Array(0);
  /** The built entries, dense (swap-removed), with the slot each belongs to and the bytes it is counted. */
  private readonly builtEntries: CachedVerification[] = [];
  private readonly builtSlots: number[] = [];
  private readonly builtCosts: number[] = [];
  /** The sum of builtCosts. */
  private builtBytes = 0;
  /** Bytes of built entries within the reserve (counted in the fixed part); beyond it they count in estimatedBytes. */
  private readonly reservedBytes: number;
  /** What built entries beyond the reserve may fill the estimate to: see TIER_SLACK. */
  private readonly tierBytes: number;
  /** The next built entry proposed for replacement when the tier is full. */
  private builtHand = 0;
  /** fixedBytes(capacity), once allocated. */
  private fixed = 0;
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
  /** A token the last get() found no entry for, while the index has not changed since: add() need not look again. */
  private absent: string | undefined;
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
    // Up to a sixteenth of the bound reserved for built entries; the rest of the tier is what the entries leave free.
    this.reservedBytes = Math.min(MAX_RESERVED_BUILT * LOGIN_BUILT_BYTES, Math.floor(this.maxBytes / 16));
    this.tierBytes = this.maxBytes - Math.floor(this.maxBytes / TIER_SLACK);
    let slots = Math.floor((this.maxBytes - this.fixedBytes(0)) / (SLOT_BYTES + 10 + TYPICAL_ENTRY_BYTES));
    while (slots > 0 && this.fixedBytes(slots) + slots * TYPICAL_ENTRY_BYTES > this.maxBytes) slots -= Math.max(1, slots >>> 8);
    this.slots = Math.max(0, slots);
  }

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  /** The estimated heap the cache holds, in bytes (never above `maxBytes`). */
  get estimatedBytes(): number {
    return this.bytesWithBuilt(this.builtBytes);
  }

  /** estimatedBytes were the built entries counted `built` bytes. */
  private bytesWithBuilt(built: number): number {
    return (this.capacity === 0 ? this.fixedBytes(0) : this.fixed) + this.entryBytes + this.internedBytes + Math.max(0, built - this.reservedBytes);
  }

  /** Entries kept built (tests and the benchmark). */
  get builtSize(): number {
    return this.builtEntries.length;
  }

  /** A token the verifier passed whose `exp` still holds, else undefined (and an expired one is dropped). */
  get(token: string): CachedVerification | undefined {
    if (this.maxBytes === 0) return undefined;
    this.digest(token);
    this.touch();
    const slot = this.find(this.d0, this.d1, this.d2, this.d3);
    if (slot < 0) {
      this.absent = token;
      return undefined;
    }
    this.absent = undefined;
    if (this.now() - this.clockTolerance >= this.exps[slot]) {
      this.remove(slot);
      return undefined;
    }
    this.referenced[slot] = 1;
    const pos = this.builtPos[slot];
    if (pos >= 0) return this.builtEntries[pos];
    const entry = this.materialize(slot);
    // Kept built from its first hit on (the token's second request: one seen once stays compact),
    // while the bound has room for it or it is asked for more often than the built entries it would
    // replace: users taking turns keep their built entries instead of churning them.
    this.keepBuilt(slot, entry);
    return entry;
  }

  /** Records a verified token; returns its entry (whether the cache admitted it or not). */
  add(token: string, claims: VerifiedClaims): CachedVerification {
    if (this.maxBytes === 0) return { claims, permissions: frozenStrings(claims.permissions) };
    if (token !== this.lastToken) {
      this.digest(token);
      this.touch();
    }
    const { d0, d1, d2, d3 } = this;
    // The same token again replaces its entry; right after a get() that missed it, there is none.
    const held = token === this.absent ? -1 : this.find(d0, d1, d2, d3);
    this.absent = undefined;
    if (held >= 0) this.remove(held);
    // Admission before any encoding: when full, a newcomer asked for less than the victim goes no further.
    if (!this.admit()) return { claims, permissions: frozenStrings(claims.permissions) };
    const encoded = this.encode(claims);
    const entry: CachedVerification = {
      claims,
      permissions: encoded.perms < PERMISSIONS_IN_VALUES ? this.permLists[encoded.perms] : frozenStrings(claims.permissions),
    };
    const size = stringBytes(encoded.text);
    if (!this.makeRoom(size)) return entry;
    const slot = this.freeHead - 1;
    this.freeHead = this.sizes[slot];
    const k = slot * 4;
    this.keys[k] = d0;
    this.keys[k + 1] = d1;
    this.keys[k + 2] = d2;
    this.keys[k + 3] = d3;
    this.exps[slot] = claims.exp;
    this.lifetimes[slot] = encoded.flags & IAT_IN_VALUES ? 0 : claims.exp - claims.iat;
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

  // ------------------------------------------------------------ the object tier

  /**
   * Keeps `entry` built for `slot` (the digest in d0..d3) when its bytes fit: within the reserve or the
   * bound, else by replacing built entries asked for less often, as many as it takes (a larger entry
   * may need more than one's room).
   */
  private keepBuilt(slot: number, entry: CachedVerification): void {
    const cost = builtBytesOf(this.values[slot]!);
    // Too large for the tier even alone: kept compact, no built entry dropped for it.
    if (cost > this.reservedBytes && this.bytesWithBuilt(cost) > this.tierBytes) return;
    let candidate = -1;
    while (this.builtBytes + cost > this.reservedBytes && this.bytesWithBuilt(this.builtBytes + cost) > this.tierBytes) {
      const n = this.builtEntries.length;
      if (n === 0) return;
      if (candidate < 0) candidate = this.frequency(this.d1, this.d2, this.d3);
      if (this.builtHand >= n) this.builtHand = 0;
      const victim = this.builtSlots[this.builtHand++];
      const k = victim * 4;
      if (candidate <= this.frequency(this.keys[k + 1], this.keys[k + 2], this.keys[k + 3])) return;
      this.dropBuilt(victim);
    }
    // Shared by every later request of the token: frozen (permissions lists are frozen already).
    Object.freeze(entry.claims);
    this.builtPos[slot] = this.builtEntries.length;
    this.builtEntries.push(entry);
    this.builtSlots.push(slot);
    this.builtCosts.push(cost);
    this.builtBytes += cost;
  }

  /** Forgets the built entry of `slot` (the compact entry stays). */
  private dropBuilt(slot: number): void {
    const pos = this.builtPos[slot];
    const last = this.builtEntries.length - 1;
    this.builtBytes -= this.builtCosts[pos];
    if (pos !== last) {
      const moved = this.builtSlots[last];
      this.builtEntries[pos] = this.builtEntries[last];
      this.builtSlots[pos] = moved;
      this.builtCosts[pos] = this.builtCosts[last];
      this.builtPos[moved] = pos;
    }
    this.builtEntries.pop();
    this.builtSlots.pop();
    this.builtCosts.pop();
    this.builtPos[slot] = -1;
  }

  // ------------------------------------------------------------ digest and sketch

  /** SHA-256 of the whole token, first 128 bits, into d0..d3. */
  private digest(token: string): void {
    if (token === this.lastToken) return;
    // Shared with the trusted issuers' cache: a provider's token is hashed once per request.
    const h = tokenDigest(token);
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
    this.absent = undefined;
    // The slot will hold another token: its built entry must never be served for it.
    if (this.builtPos[slot] >= 0) this.dropBuilt(slot);
    this.values[slot] = undefined;
    this.entryBytes -= this.sizes[slot];
    this.sizes[slot] = this.freeHead;
    this.freeHead = slot + 1;
    this.count--;
  }

  /** A free slot and `size` bytes under the bound, by growing or by evicting; false when the newcomer loses admission. */
  /** Room for one more entry: a free slot (growing if the bound allows), or a victim that loses to the newcomer. */
  private admit(): boolean {
    if (this.capacity === 0) this.allocate();
    if (this.freeHead !== 0) return true;
    if (this.count === 0) return false;
    const victim = this.victim();
    const k = victim * 4;
    const expired = this.now() - this.clockTolerance >= this.exps[victim];
    if (!expired && this.frequency(this.d1, this.d2, this.d3) <= this.frequency(this.keys[k + 1], this.keys[k + 2], this.keys[k + 3])) return false;
    this.remove(victim);
    return true;
  }

  private makeRoom(size: number): boolean {
    // Built entries beyond the reserve give way first: a compact entry saves a verification, a built one only a rebuild.
    while (this.estimatedBytes + size > this.maxBytes && this.builtBytes > this.reservedBytes) {
      if (this.builtHand >= this.builtEntries.length) this.builtHand = 0;
      this.dropBuilt(this.builtSlots[this.builtHand]);
    }
    let candidate = -1;
    while (this.freeHead === 0 || this.estimatedBytes + size > this.maxBytes) {
      if (this.count === 0) return false;
      if (candidate < 0) candidate = this.frequency(this.d1, this.d2, this.d3);
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
    return capacity * SLOT_BYTES + tableSizeFor(capacity) * 4 + this.sketch.length + this.reservedBytes;
  }

  /** The fixed arrays, once, for `slots` entries; every slot free. */
  private allocate(): void {
    const n = Math.max(1, this.slots);
    this.keys = new Int32Array(n * 4);
    this.exps = new Float64Array(n);
    this.lifetimes = new Uint32Array(n);
    this.shapes = new Uint16Array(n);
    this.perms = new Uint16Array(n);
    this.sizes = new Int32Array(n);
    this.flags = new Uint8Array(n);
    this.referenced = new Uint8Array(n);
    this.builtPos = new Int32Array(n).fill(-1);
    // Pushed, not `length =`: the array stays packed (a long hole can turn it into a dictionary).
    for (let i = 0; i < n; i++) this.values.push(undefined);
    for (let i = 0; i < n - 1; i++) this.sizes[i] = i + 2;
    this.freeHead = 1;
    this.capacity = n;
    this.table = new Int32Array(tableSizeFor(n));
    this.mask = this.table.length - 1;
    this.fixed = this.fixedBytes(n);
  }

  // ------------------------------------------------------------ entries

  /** The compact form of verified claims. */
  private encode(claims: VerifiedClaims): { shape: number; perms: number; flags: number; text: string } {
    let flags = 0;
    let perms = NO_PERMISSIONS;
    // The names kept with the values are compared, as they come, to the last shape's (most tokens in a
    // row have the same claims): `names` is built only once they differ, and no key is built for them.
    const last = this.lastShape === -1 ? EMPTY : this.shapeNames[this.lastShape];
    let matched = 0;
    let names: string[] | undefined;
    const values: unknown[] = [];
    let plain = true;
    // for-in over own names is Object.keys' order, and V8 reads each value from the enum cache
    // instead of a keyed look-up per name (about a fifth of the time for a login token).
    for (const name in claims) {
      if (!hasOwn.call(claims, name)) continue;
      const value = claims[name];
      if (name === 'exp') continue;
      // Kept as its distance to exp when that is exact (integers, as the module issues them).
      if (
        name === 'iat' &&
        Number.isInteger(value) &&
        Number.isInteger(claims.exp) &&
        claims.exp - (value as number) >= 0 &&
        claims.exp - (value as number) < 2 ** 32
      )
        continue;
      if (name === 'iat') flags |= IAT_IN_VALUES;
      if (name === 'is_staff' && typeof value === 'boolean') flags |= STAFF_PRESENT | (value ? STAFF_TRUE : 0);
      else if (name === 'is_superuser' && typeof value === 'boolean') flags |= SUPER_PRESENT | (value ? SUPER_TRUE : 0);
      else if (name === 'permissions' && (perms = this.permissionsId(value)) !== PERMISSIONS_IN_VALUES) continue;
      else {
        // A name JSON.parse keeps as an own property but an assignment would treat as the prototype.
        if (name === '__proto__') plain = false;
        if (names !== undefined) names.push(name);
        else if (matched < last.length && last[matched] === name) matched++;
        else (names = last.slice(0, matched)).push(name);
        values.push(value);
      }
    }
    let shape: number;
    if (!plain) shape = OBJECT_SHAPE;
    else if (names === undefined && matched === last.length && this.lastShape !== -1) shape = this.lastShape;
    else shape = this.shapeId(names ?? last.slice(0, matched));
    if (shape === OBJECT_SHAPE) {
      const all = names ?? last.slice(0, matched);
      const rest: Record<string, unknown> = {};
      for (let i = 0; i < all.length; i++)
        Object.defineProperty(rest, all[i], { value: values[i], enumerable: true, writable: true, configurable: true });
      return { shape, perms, flags, text: JSON.stringify(rest) };
    }
    return { shape, perms, flags, text: valuesJson(values) };
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
    const flags = this.flags[slot];
    if ((flags & IAT_IN_VALUES) === 0) claims.iat = this.exps[slot] - this.lifetimes[slot];
    claims.exp = this.exps[slot];
    if (flags & STAFF_PRESENT) claims.is_staff = (flags & STAFF_TRUE) !== 0;
    if (flags & SUPER_PRESENT) claims.is_superuser = (flags & SUPER_TRUE) !== 0;
    const p = this.perms[slot];
    let permissions: readonly string[];
    if (p < NO_PERMISSIONS - 1) {
      permissions = this.permLists[p];
      claims.permissions = permissions;
    } else permissions = p === NO_PERMISSIONS ? EMPTY : frozenStrings(claims.permissions);
    return { claims: claims as VerifiedClaims, permissions };
  }

  /** The interned list for a `permissions` claim of strings (or NO_PERMISSIONS / PERMISSIONS_IN_VALUES). */
  private permissionsId(value: unknown): number {
    if (value === undefined) return NO_PERMISSIONS;
    if (!Array.isArray(value)) return PERMISSIONS_IN_VALUES;
    // Most tokens in a row carry the list the last one did: compared without building its key (equal
    // to a list of strings, so strings too).
    if (this.lastPerms !== -1 && sameStrings(this.permLists[this.lastPerms], value as string[])) return this.lastPerms;
    for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return PERMISSIONS_IN_VALUES;
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
    if (this.lastShape !== -1 && sameStrings(this.shapeNames[this.lastShape], names)) return this.lastShape;
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
const hasOwn = Object.prototype.hasOwnProperty;

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
  // The text valuesJson() last made, known latin1 without a second look (equal text, equal verdict).
  const perChar = s === latin1Json || !NOT_LATIN1.test(s) ? 1 : 2;
  return (STRING_HEADER + perChar * s.length + 7) & ~7;
}

const NOT_LATIN1 = /[^\u0000-\u00ff]/;
/** Beyond latin1, or what JSON.stringify escapes in it (`"` aside): a control character or a backslash. */
const NOT_PLAIN_LATIN1 = /[^\u0020-\u005b\u005d-\u00ff]/;
/** The last text valuesJson() made from strings it found latin1. */
let latin1Json: string | undefined;

/**
 * JSON.stringify(values), faster for what tokens carry (a few strings that need no escape): one join,
 * one regular expression over the result. Anything else goes to JSON.stringify. Takes `values` over
 * (its first and last strings are changed): encode() has no use for it afterwards.
 */
function valuesJson(values: unknown[]): string {
  const n = values.length;
  if (n < 2) return JSON.stringify(values);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    // A quote is looked for value by value: in the joined text the separators have them too.
    if (typeof v !== 'string' || v.indexOf('"') !== -1) return JSON.stringify(values);
  }
  const first = values[0] as string;
  const last = values[n - 1] as string;
  values[0] = `["${first}`;
  values[n - 1] = `${last}"]`;
  // One flat string (join writes into a new one), as JSON.stringify's would be.
  const text = values.join('","');
  // JSON.stringify writes every other latin1 character as it is; beyond latin1 (where it escapes lone surrogates) it decides.
  if (NOT_PLAIN_LATIN1.test(text)) {
    values[0] = first;
    values[n - 1] = last;
    return JSON.stringify(values);
  }
  latin1Json = text;
  return text;
}

/** The claim as an array of strings: the array itself when it already is one, else its strings. */
function stringsOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') return value.filter((p): p is string => typeof p === 'string');
  }
  return value as string[];
}

/**
 * The bytes a built entry is counted, from its compact text (JSON without whitespace): the base, and for
 * each value of the text what materializing it leaves on the heap: a string its header and characters
 * (two bytes each when the text has any beyond Latin-1: an upper bound), a member or element its slot, a
 * number a heap number, a nested object or array its own. The outer array or object is not counted (its
 * members become the claims object's fields, counted in the base and by the separators). Upper bounds
 * throughout: interned claim names and short strings V8 shares are counted as if each entry had its own.
 */
function builtBytesOf(text: string): number {
  let bytes = BUILT_ENTRY_BASE;
  let chars = 0;
  let wide = false;
  let prev = 0;
  for (let i = 1; i < text.length - 1; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: its characters up to the closing quote (an escape counted as at least the character it yields).
      bytes += BUILT_STRING;
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) {
        const d = text.charCodeAt(i);
        // \uXXXX (a lone surrogate, as JSON.stringify writes one) may make the whole string two-byte.
        if (d === 0x5c && text.charCodeAt(++i) === 0x75) wide = true;
        else if (d > 0xff) wide = true;
        chars++;
      }
      prev = 0x22;
      continue;
    }
    if (c === 0x2c || c === 0x3a) bytes += BUILT_SLOT;
    else if (c === 0x7b) bytes += BUILT_OBJECT;
    else if (c === 0x5b) bytes += BUILT_ARRAY;
    // A number starts after a separator or an opening bracket (or first in the text: prev 0).
    else if ((c === 0x2d || (c >= 0x30 && c <= 0x39)) && (prev === 0 || prev === 0x2c || prev === 0x3a || prev === 0x5b)) bytes += BUILT_NUMBER;
    prev = c;
  }
  return bytes + (wide ? 2 * chars : chars);
}

/** The heap an entry's own string takes, as the cache counts it (tests and the benchmark). */
export function entryStringBytes(text: string): number {
  return stringBytes(text);
}
