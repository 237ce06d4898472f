import { DEFAULT_DPOP_ALGORITHMS } from '../dpop/dpop-proof.js';
import { DpopNonces } from '../dpop/dpop-nonce.js';
import type { DpopRedisLike } from '../dpop/dpop-replay.store.js';
import type { PermissionGrantor } from '../authorization/route-table.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { ALGORITHMS } from '../tokens/algorithms.js';
import { JWS_ALGORITHMS, type JwsAlgorithm } from '../tokens/token.types.js';
import { permissionsFrom, stringAt, trueAt, type ClaimMapping, type ClaimsOf, type TrustedIssuerClaims } from './claim-mapping.js';
import { mappingOf, PRESET_NAMES, presetDefaults, type TrustedIssuerPreset } from './presets.js';

/** One identity provider whose access tokens the app accepts (API.md, "Trusted issuers"). */
export interface TrustedIssuerOptions {
  /** Equals the token's `iss`, exactly; picks the issuer. */
  issuer: string;
  /** The token's `aud` must contain one of them. */
  audience: string | string[];
  /** The JWK Set; default: `jwks_uri` of `${issuer}/.well-known/openid-configuration` (which must be on the issuer's host). */
  jwksUri?: string;
  /** Allowed algorithms [['RS256', 'ES256']]; never 'none' or HS*. */
  algorithms?: JwsAlgorithm[];
  preset?: TrustedIssuerPreset;
  claims?: TrustedIssuerClaims;
  /**
   * DPoP (RFC 9449): `'required'`: only `Authorization: DPoP` with a valid proof; `'allowed'`: DPoP-bound tokens with
   * their proof, and unbound tokens as bearer tokens. Without it a DPoP-bound token is refused.
   */
  dpop?: 'required' | 'allowed';
  dpopOptions?: TrustedIssuerDpopOptions;
  /** Ask the provider (RFC 7662 token introspection) about opaque tokens, or about every token. */
  introspection?: TrustedIssuerIntrospectionOptions;
  /**
   * The `typ` header accepted: `'at+jwt'` only (RFC 9068: an ID token or any other JWT of the provider is refused), or
   * `'JWT'`: `JWT`, `at+jwt` or none, as most providers still send ['JWT'].
   */
  tokenType?: 'at+jwt' | 'JWT';
  /** At boot, when the provider cannot be read: `'fail'` the boot, or `'retry'` on the first tokens ['retry']. */
  onUnreachable?: 'fail' | 'retry';
  /** The longest a read of the discovery document or the key set may take, in ms [3000]. */
  fetchTimeoutMs?: number;
  /** Longest `exp - iat` accepted, in seconds [86400]. */
  maxTokenLifetime?: number;
}

/** The details of DPoP for an issuer with `dpop` set. */
export interface TrustedIssuerDpopOptions {
  /** Algorithms a proof may be signed with; asymmetric only [ES256, ES384, ES512, RS256, PS256, EdDSA]. */
  algorithms?: JwsAlgorithm[];
  /** How old a proof's `iat` may be, in seconds [60]; also how long a used proof is remembered. */
  proofMaxAgeSeconds?: number;
  /**
   * Server nonces (RFC 9449 §8): every proof must carry a nonce this app issued (`DPoP-Nonce`, `use_dpop_nonce`).
   * Every instance must share the `secret` (32+ characters); a nonce lives one to two `lifetimeSeconds` [300].
   */
  nonce?: { secret: string | Buffer; lifetimeSeconds?: number };
  /**
   * Where used proofs are remembered: by default the module's `store` (memory; the `auth_dpop_proofs` table with
   * TypeORM). A Redis URL or ioredis client shares them in Redis instead (needed with `store: 'cache'` unless
   * its sessions are in TypeORM).
   */
  redis?: string | DpopRedisLike;
  /** Prepended to the Redis keys ['nest-auth:dpop:']. */
  redisKeyPrefix?: string;
}

/** Token introspection (RFC 7662) for one issuer: the API is a client of the provider. */
export interface TrustedIssuerIntrospectionOptions {
  /** The API's client at the provider, authenticated with client_secret_basic. */
  clientId: string;
  clientSecret: string;
  /** Default: `introspection_endpoint` of the issuer's discovery document (on the issuer's origin). */
  endpoint?: string;
  /**
   * `'opaque'` [default]: tokens that are not JWTs are introspected, JWTs are verified locally. `'all'`: JWTs are
   * verified and then introspected too (the provider's revocation is seen within `cacheMaxSeconds`).
   */
  tokens?: 'opaque' | 'all';
  /** The longest an answer is reused, in seconds [60]; never past the token's `exp`. */
  cacheMaxSeconds?: number;
  /** Answers kept at most [10000]; the oldest go first. */
  cacheMaxEntries?: number;
}

export interface ResolvedIntrospection {
  clientId: string;
  clientSecret: string;
  endpoint: string | undefined;
  tokens: 'opaque' | 'all';
  cacheMaxSeconds: number;
  cacheMaxEntries: number;
}

export interface ResolvedDpop {
  mode: 'required' | 'allowed';
  algorithms: readonly JwsAlgorithm[];
  maxAgeSeconds: number;
  nonces: DpopNonces | undefined;
  redis: string | DpopRedisLike | undefined;
  redisKeyPrefix: string;
}

/** A `PermissionGrantor` too: the catalog check (`assertPermissionsInCatalog`) reads what its mapping can grant. */
export interface ResolvedTrustedIssuer extends PermissionGrantor {
  issuer: string;
  audiences: readonly string[];
  /** Configured (any host), or undefined: then from discovery, on the issuer's origin only. */
  jwksUri: string | undefined;
  discoveryUrl: string;
  algorithms: readonly JwsAlgorithm[];
  tokenType: 'at+jwt' | 'JWT';
  preset: TrustedIssuerPreset | undefined;
  mapping: ClaimMapping;
  audienceClaims: readonly string[];
  requiredClaims: Readonly<Record<string, string>>;
  onUnreachable: 'fail' | 'retry';
  fetchTimeoutMs: number;
  maxTokenLifetime: number;
  /** Undefined: a DPoP-bound token (`cnf`) is refused. */
  dpop: ResolvedDpop | undefined;
  introspection: ResolvedIntrospection | undefined;
  /** Where options name this entry: `trustedIssuers[0]`. */
  option: string;
}

export const DEFAULT_ISSUER_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'ES256'];
const ENTRY_KEYS: ReadonlyArray<keyof Required<TrustedIssuerOptions>> = [
  'issuer',
  'audience',
  'jwksUri',
  'algorithms',
  'preset',
  'claims',
  'dpop',
  'dpopOptions',
  'introspection',
  'tokenType',
  'onUnreachable',
  'fetchTimeoutMs',
  'maxTokenLifetime',
];
const CLAIM_KEYS: ReadonlyArray<keyof Required<TrustedIssuerClaims>> = ['permissions', 'username', 'isStaff', 'isSuperuser', 'permissionMap'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A URL the module may read: https, or http on a loopback host only (tests,
 * a sidecar), with no credentials and no fragment.
 */
export function checkProviderUrl(value: unknown, option: string): URL {
  if (typeof value !== 'string' || value.length === 0) throw new AuthConfigError(option, 'must be a non-empty URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AuthConfigError(option, 'is not a URL');
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new AuthConfigError(option, 'must be an https URL (http only on a loopback host)');
  }
  if (url.username !== '' || url.password !== '' || url.hash !== '') throw new AuthConfigError(option, 'must have no credentials and no fragment');
  return url;
}

/** OpenID Connect Discovery §4: a terminating "/" of the issuer is removed before the well-known path. */
export function discoveryUrlOf(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

function positive(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new AuthConfigError(option, 'must be a positive integer');
  return value;
}

function pathOrFunction<T>(value: unknown, option: string, ofPath: (path: string) => ClaimsOf<T>): ClaimsOf<T> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as ClaimsOf<T>;
  if (typeof value === 'string' && value.length > 0) return ofPath(value);
  throw new AuthConfigError(option, 'must be a claim path (a non-empty string) or a function of the claims');
}

type ExplicitClaims = Partial<Omit<ClaimMapping, 'grantable'>> & { permissionMap?: ReadonlyMap<string, readonly string[]> };

function resolveClaims(raw: unknown, option: string): ExplicitClaims {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new AuthConfigError(option, 'must be an object');
  for (const key of Object.keys(raw))
    if (!(CLAIM_KEYS as readonly string[]).includes(key)) throw new AuthConfigError(`${option}.${key}`, 'unknown option');
  let permissions: ClaimsOf<string[]> | undefined;
  const p = raw.permissions;
  if (typeof p === 'function') permissions = p as ClaimsOf<string[]>;
  else if (typeof p === 'string' && p.length > 0) permissions = permissionsFrom([p]);
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string' && x.length > 0)) permissions = permissionsFrom(p as string[]);
  else if (p !== undefined) throw new AuthConfigError(`${option}.permissions`, 'must be a claim path, a non-empty list of them, or a function');
  return {
    ...(permissions ? { permissions } : {}),
    ...optional('username', pathOrFunction(raw.username, `${option}.username`, stringAt)),
    ...optional('isStaff', pathOrFunction(raw.isStaff, `${option}.isStaff`, trueAt)),
    ...optional('isSuperuser', pathOrFunction(raw.isSuperuser, `${option}.isSuperuser`, trueAt)),
    ...optional('permissionMap', resolvePermissionMap(raw.permissionMap, `${option}.permissionMap`)),
  };
}

/** `{ word: permission | permission[] }` as a Map of non-empty strings (a Map: no inherited member can be a word). */
function resolvePermissionMap(raw: unknown, option: string): Map<string, readonly string[]> | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw) || Object.keys(raw).length === 0) {
    throw new AuthConfigError(
      option,
      "must be an object mapping the provider's words to the app's permissions: { 'orders-admin': ['orders:write'] }",
    );
  }
  const map = new Map<string, readonly string[]>();
  for (const [word, value] of Object.entries(raw)) {
    const permissions = typeof value === 'string' ? [value] : value;
    if (word.length === 0 || !Array.isArray(permissions) || !permissions.every((p) => typeof p === 'string' && p.trim().length > 0)) {
      throw new AuthConfigError(`${option}.${word}`, 'must be a permission (a non-empty string) or a list of them');
    }
    map.set(word, Object.freeze([...new Set(permissions as string[])]));
  }
  return map;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function resolveAlgorithms(raw: unknown, option: string): JwsAlgorithm[] {
  if (raw === undefined) return [...DEFAULT_ISSUER_ALGORITHMS];
  if (!Array.isArray(raw) || raw.length === 0) throw new AuthConfigError(option, 'must be a non-empty array');
  for (const alg of raw) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none')
      throw new AuthConfigError(option, '"none" is refused: unsigned tokens are never accepted');
    if (!(JWS_ALGORITHMS as readonly unknown[]).includes(alg)) throw new AuthConfigError(option, `unknown algorithm ${JSON.stringify(alg)}`);
    if (ALGORITHMS[alg as JwsAlgorithm].family === 'hmac') {
      throw new AuthConfigError(option, `${String(alg)} is refused: a provider's tokens are verified with its public keys, never a shared secret`);
    }
  }
  return [...new Set(raw as JwsAlgorithm[])];
}

function resolveEntry(raw: unknown, option: string): ResolvedTrustedIssuer {
  if (!isObject(raw)) throw new AuthConfigError(option, 'must be an object { issuer, audience, ... }');
  for (const key of Object.keys(raw))
    if (!(ENTRY_KEYS as readonly string[]).includes(key)) throw new AuthConfigError(`${option}.${key}`, 'unknown option');
  const issuer = raw.issuer;
  if (typeof issuer !== 'string' || issuer.length === 0) throw new AuthConfigError(`${option}.issuer`, 'must be a non-empty string');
  const audience = raw.audience;
  const audiences = typeof audience === 'string' ? [audience] : audience;
  if (!Array.isArray(audiences) || audiences.length === 0 || !audiences.every((a) => typeof a === 'string' && a.length > 0)) {
    throw new AuthConfigError(`${option}.audience`, 'must be a non-empty string or a non-empty array of them');
  }
  if (raw.preset !== undefined && !(PRESET_NAMES as readonly unknown[]).includes(raw.preset)) {
    throw new AuthConfigError(`${option}.preset`, `must be one of ${PRESET_NAMES.join(', ')}`);
  }
  if (raw.dpop !== undefined && raw.dpop !== 'required' && raw.dpop !== 'allowed') {
    throw new AuthConfigError(`${option}.dpop`, "must be 'required' or 'allowed'");
  }
  if (raw.tokenType !== undefined && raw.tokenType !== 'at+jwt' && raw.tokenType !== 'JWT') {
    throw new AuthConfigError(`${option}.tokenType`, "must be 'at+jwt' or 'JWT'");
  }
  if (raw.onUnreachable !== undefined && raw.onUnreachable !== 'fail' && raw.onUnreachable !== 'retry') {
    throw new AuthConfigError(`${option}.onUnreachable`, "must be 'fail' or 'retry'");
  }
  const preset = raw.preset === undefined ? undefined : presetDefaults(raw.preset as TrustedIssuerPreset, audiences as string[]);
  const claims = resolveClaims(raw.claims, `${option}.claims`);
  let jwksUri = raw.jwksUri === undefined ? preset?.jwksUri?.(issuer) : (raw.jwksUri as string);
  if (jwksUri !== undefined) jwksUri = checkProviderUrl(jwksUri, `${option}.jwksUri`).toString();
  // Discovery reads from the issuer's own URL; with jwksUri given the issuer may be any string (rare, but RFC 7519 allows it).
  if (jwksUri === undefined || (isObject(raw.introspection) && raw.introspection.endpoint === undefined))
    checkProviderUrl(issuer, `${option}.issuer`);
  return {
    issuer,
    audiences: audiences as string[],
    jwksUri,
    discoveryUrl: discoveryUrlOf(issuer),
    algorithms: resolveAlgorithms(raw.algorithms, `${option}.algorithms`),
    tokenType: (raw.tokenType as 'at+jwt' | 'JWT' | undefined) ?? 'JWT',
    preset: raw.preset as TrustedIssuerPreset | undefined,
    mapping: mappingOf(claims, preset, claims.permissionMap),
    audienceClaims: preset?.audienceClaims ?? ['aud'],
    requiredClaims: preset?.requiredClaims ?? {},
    onUnreachable: (raw.onUnreachable as 'fail' | 'retry' | undefined) ?? 'retry',
    fetchTimeoutMs: positive(raw.fetchTimeoutMs, `${option}.fetchTimeoutMs`, 3000),
    maxTokenLifetime: positive(raw.maxTokenLifetime, `${option}.maxTokenLifetime`, 86_400),
    dpop: resolveDpop(raw.dpop as 'required' | 'allowed' | undefined, raw.dpopOptions, option),
    introspection: resolveIntrospection(raw.introspection, `${option}.introspection`),
    option,
  };
}

const DPOP_KEYS: ReadonlyArray<keyof Required<TrustedIssuerDpopOptions>> = ['algorithms', 'proofMaxAgeSeconds', 'nonce', 'redis', 'redisKeyPrefix'];

function resolveDpop(mode: 'required' | 'allowed' | undefined, raw: unknown, option: string): ResolvedDpop | undefined {
  const at = `${option}.dpopOptions`;
  if (mode === undefined) {
    if (raw !== undefined) throw new AuthConfigError(at, "is set but dpop is not: set dpop: 'required' or 'allowed'");
    return undefined;
  }
  if (raw !== undefined && !isObject(raw)) throw new AuthConfigError(at, 'must be an object');
  const o = (raw ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!(DPOP_KEYS as readonly string[]).includes(key)) throw new AuthConfigError(`${at}.${key}`, 'unknown option');
  const algorithms = o.algorithms === undefined ? [...DEFAULT_DPOP_ALGORITHMS] : resolveAlgorithms(o.algorithms, `${at}.algorithms`);
  let nonces: DpopNonces | undefined;
  if (o.nonce !== undefined) {
    const n = o.nonce as Record<string, unknown>;
    if (!isObject(n)) throw new AuthConfigError(`${at}.nonce`, 'must be { secret, lifetimeSeconds? }');
    const secret = n.secret;
    if (!((typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length >= 32)) {
      throw new AuthConfigError(`${at}.nonce.secret`, 'must be a string or Buffer of 32 or more characters, the same on every instance');
    }
    nonces = new DpopNonces(secret, positive(n.lifetimeSeconds, `${at}.nonce.lifetimeSeconds`, 300));
  }
  const redis = o.redis;
  if (redis !== undefined && !(typeof redis === 'string' && redis.length > 0) && !(isObject(redis) && typeof redis.set === 'function')) {
    throw new AuthConfigError(`${at}.redis`, 'must be a redis:// URL or an ioredis client');
  }
  if (o.redisKeyPrefix !== undefined && typeof o.redisKeyPrefix !== 'string') throw new AuthConfigError(`${at}.redisKeyPrefix`, 'must be a string');
  return {
    mode,
    algorithms,
    maxAgeSeconds: positive(o.proofMaxAgeSeconds, `${at}.proofMaxAgeSeconds`, 60),
    nonces,
    redis: redis as string | DpopRedisLike | undefined,
    redisKeyPrefix: (o.redisKeyPrefix as string | undefined) ?? 'nest-auth:dpop:',
  };
}

const INTROSPECTION_KEYS: ReadonlyArray<keyof Required<TrustedIssuerIntrospectionOptions>> = [
  'clientId',
  'clientSecret',
  'endpoint',
  'tokens',
  'cacheMaxSeconds',
  'cacheMaxEntries',
];

function resolveIntrospection(raw: unknown, at: string): ResolvedIntrospection | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw new AuthConfigError(at, 'must be { clientId, clientSecret, endpoint?, ... }');
  for (const key of Object.keys(raw))
    if (!(INTROSPECTION_KEYS as readonly string[]).includes(key)) throw new AuthConfigError(`${at}.${key}`, 'unknown option');
  for (const name of ['clientId', 'clientSecret'] as const) {
    if (typeof raw[name] !== 'string' || (raw[name] as string).length === 0) throw new AuthConfigError(`${at}.${name}`, 'must be a non-empty string');
  }
  if (raw.tokens !== undefined && raw.tokens !== 'opaque' && raw.tokens !== 'all')
    throw new AuthConfigError(`${at}.tokens`, "must be 'opaque' or 'all'");
  return {
    clientId: raw.clientId as string,
    clientSecret: raw.clientSecret as string,
    endpoint: raw.endpoint === undefined ? undefined : checkProviderUrl(raw.endpoint, `${at}.endpoint`).toString(),
    tokens: (raw.tokens as 'opaque' | 'all' | undefined) ?? 'opaque',
    cacheMaxSeconds: positive(raw.cacheMaxSeconds, `${at}.cacheMaxSeconds`, 60),
    cacheMaxEntries: positive(raw.cacheMaxEntries, `${at}.cacheMaxEntries`, 10_000),
  };
}

/** `trustedIssuers` checked and defaulted. `ownIssuer`: `jwt.issuer`, which no trusted issuer may share. */
export function resolveTrustedIssuers(raw: unknown, ownIssuer: string | undefined): ResolvedTrustedIssuer[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new AuthConfigError('trustedIssuers', 'must be an array of { issuer, audience, ... }');
  const resolved = raw.map((entry, i) => resolveEntry(entry, `trustedIssuers[${i}]`));
  const seen = new Set<string>();
  for (const entry of resolved) {
    if (seen.has(entry.issuer)) throw new AuthConfigError(`${entry.option}.issuer`, `"${entry.issuer}" is listed twice`);
    if (entry.issuer === ownIssuer)
      throw new AuthConfigError(`${entry.option}.issuer`, "equals jwt.issuer: the app's own tokens would be taken for the provider's");
    seen.add(entry.issuer);
  }
  return resolved;
}
