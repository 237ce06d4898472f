import type { JsonWebKey } from 'node:crypto';
import { ALGORITHMS } from '../tokens/algorithms.js';
import { importJwk, type RingKey } from '../tokens/key-ring.js';
import type { JwsAlgorithm } from '../tokens/token.types.js';
import { fetchJson, ProviderReadError } from './fetch-json.js';
import { discoveredEndpoint, MAX_DOCUMENT_BYTES } from './discovery.js';
import type { ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** Bounds on the provider's `Cache-Control: max-age` (API.md), and the age when it sends none. */
export const MIN_KEY_SET_AGE_MS = 30_000;
export const MAX_KEY_SET_AGE_MS = 600_000;
/** A read for a `kid` the set does not hold, or after a failed read, at most this often. */
export const KEY_READ_COOLDOWN_MS = 10_000;
/** A key set with more keys than this is refused. */
export const MAX_KEYS = 100;

const KTY_OF: Readonly<Record<string, string>> = { rsa: 'RSA', 'rsa-pss': 'RSA', ec: 'EC', eddsa: 'OKP' };

/**
 * The verification keys of one trusted issuer, read from its JWK Set (found
 * through OIDC discovery unless configured) and kept for the provider's
 * `max-age` within bounds. Reads are single-flight; a read for an unknown
 * `kid`, and any read after a failed one, waits out a cool-down, so no
 * stream of tokens can make the module hammer the provider. A read replaces
 * the whole set: a key the provider stopped listing is gone at once.
 */
export class RemoteKeySet {
  private byKid = new Map<string, RingKey[]>();
  private all: readonly RingKey[] = [];
  private current = new Set<RingKey>();
  private loadedAt = 0;
  private maxAgeMs = 0;
  private lastAttempt = -Infinity;
  private reading: Promise<boolean> | undefined;
  private jwksUri: string | undefined;
  /** True once a read succeeded. */
  loaded = false;
  /** The last read's failure, for the log; undefined after a success. */
  lastError: ProviderReadError | undefined;

  constructor(
    private readonly issuer: ResolvedTrustedIssuer,
    private readonly now: () => number,
  ) {
    this.jwksUri = issuer.jwksUri;
  }

  /** Loaded and younger than its max-age. */
  isFresh(now = this.now()): boolean {
    return this.loaded && now - this.loadedAt < this.maxAgeMs;
  }

  /** Still listed by the provider as of the last read: a cached verification under a removed key is dropped. */
  holds(key: RingKey): boolean {
    return this.current.has(key);
  }

  /** A read is allowed now (none in the last cool-down). */
  mayRead(now = this.now()): boolean {
    return now - this.lastAttempt >= KEY_READ_COOLDOWN_MS;
  }

  /** The keys that may have signed a token with this header; empty when the set has none for its `kid` (or, without one, its `alg`). */
  candidates(kid: string | undefined, alg: JwsAlgorithm): readonly RingKey[] {
    if (kid !== undefined) return this.byKid.get(kid) ?? [];
    return this.all.filter((k) => k.alg === alg);
  }

  /** Reads the set now, unless a read is under way (then its outcome). Resolves true on success; never rejects. */
  refresh(): Promise<boolean> {
    if (this.reading) return this.reading;
    this.lastAttempt = this.now();
    const read = this.read().then(
      () => {
        this.lastError = undefined;
        return true;
      },
      (err: unknown) => {
        this.lastError = err instanceof ProviderReadError ? err : new ProviderReadError(this.jwksUri ?? this.issuer.discoveryUrl, String(err));
        return false;
      },
    );
    this.reading = read;
    void read.finally(() => {
      if (this.reading === read) this.reading = undefined;
    });
    return read;
  }

  private async read(): Promise<void> {
    const { fetchTimeoutMs: timeout } = this.issuer;
    if (this.jwksUri === undefined) this.jwksUri = await discoveredEndpoint(this.issuer, 'jwks_uri', 'jwksUri');
    const { body, maxAgeSeconds } = await fetchJson(this.jwksUri, timeout, MAX_DOCUMENT_BYTES);
    const keys = keysOf(body, this.issuer.algorithms, this.jwksUri);
    const byKid = new Map<string, RingKey[]>();
    for (const key of keys) {
      if (key.kid === undefined) continue;
      const list = byKid.get(key.kid);
      if (list) list.push(key);
      else byKid.set(key.kid, [key]);
    }
    this.byKid = byKid;
    this.all = keys;
    this.current = new Set(keys);
    this.loadedAt = this.now();
    const ageMs = maxAgeSeconds === undefined ? MAX_KEY_SET_AGE_MS : maxAgeSeconds * 1000;
    this.maxAgeMs = Math.min(MAX_KEY_SET_AGE_MS, Math.max(MIN_KEY_SET_AGE_MS, ageMs));
    this.loaded = true;
  }
}

/**
 * The usable keys of a JWK Set: signature keys (`use` absent or `sig`,
 * `key_ops` absent or with `verify`), never secrets, each bound to one
 * algorithm of the issuer's allowlist: its JWK `alg` if it names one (else
 * the key is skipped when that algorithm is not allowed), or, for a JWK
 * without `alg` (Entra ID's), each allowed algorithm of its key type and
 * curve. The module's import checks apply (RSA of 2048 bits or more, no ROCA
 * key, the right curve); a key that fails them is skipped, not the set.
 */
export function keysOf(body: Record<string, unknown>, allowed: readonly JwsAlgorithm[], url: string): RingKey[] {
  const list = body.keys;
  if (!Array.isArray(list)) throw new ProviderReadError(url, 'not a JWK Set (no "keys" array)');
  if (list.length > MAX_KEYS) throw new ProviderReadError(url, `more than ${MAX_KEYS} keys`);
  const keys: RingKey[] = [];
  for (const [i, jwk] of list.entries()) {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) continue;
    const j = jwk as JsonWebKey & { alg?: unknown; use?: unknown; key_ops?: unknown; kid?: unknown };
    if (j.kty === 'oct' || (j.use !== undefined && j.use !== 'sig')) continue;
    if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes('verify'))) continue;
    if (j.kid !== undefined && (typeof j.kid !== 'string' || j.kid.length === 0)) continue;
    const algs = j.alg !== undefined ? allowed.filter((a) => a === j.alg) : allowed.filter((a) => KTY_OF[ALGORITHMS[a].family] === j.kty);
    for (const alg of algs) {
      try {
        keys.push(importJwk({ ...j, alg }, `keys[${i}]`));
      } catch {
        // Wrong curve for the algorithm, a weak or broken key: this key is not usable for it.
      }
    }
  }
  return keys;
}
