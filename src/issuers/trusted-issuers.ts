import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { AuthContextData } from '../context/auth-context.js';
import { AuthConfigError, AuthError } from '../errors/auth-error.js';
import type { TrustedIssuerSettings } from './trusted-issuer-settings.js';
import { RevocationGate, type RevocationClaims } from '../revocation/revocation-gate.js';
import { checkSegment, decodeSegment } from '../tokens/base64url.js';
import { verifySignature } from '../tokens/jws.js';
import type { RingKey } from '../tokens/key-ring.js';
import { parseJsonObject } from '../tokens/strict-json.js';
import type { JwsAlgorithm } from '../tokens/token.types.js';
import { RemoteKeySet } from './remote-key-set.js';
import type { ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** A provider's token that passed every check, with what the mapping made of it. */
interface ExternalVerification {
  issuer: Issuer;
  key: RingKey;
  claims: Readonly<Record<string, unknown>>;
  exp: number;
  gateClaims: RevocationClaims;
  userId: string;
  username: string | undefined;
  isStaff: boolean;
  isSuperuser: boolean;
  permissions: string[];
}

interface Issuer {
  config: ResolvedTrustedIssuer;
  keys: RemoteKeySet;
}

/**
 * The heap a kept verification costs beyond its token: the Map entry, the
 * entry and context objects; the claims decoded from the token cost about
 * as much again as its characters. An estimate, as the module's own cache's.
 */
const ENTRY_OVERHEAD_BYTES = 700;
const entryBytes = (token: string) => ENTRY_OVERHEAD_BYTES + 2 * token.length;
/** Header members that would carry or point to a key: the key is always the provider's, never the token's. */
const KEY_CARRYING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'];

function invalid(reason: string): never {
  throw new AuthError('token_invalid', reason);
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Access tokens of the identity providers the app trusts (`trustedIssuers`).
 * A token's issuer is read from its payload (through the strict parser, and
 * trusted for nothing but picking the issuer), and only that issuer's keys
 * may verify it; then the module's checks and the issuer's claim mapping.
 * Verified tokens are kept until they expire, as the module's own are, and
 * a kept one still needs its key to be listed by the provider; the
 * revocation verdict is asked on every call.
 */
@Injectable()
export class TrustedIssuers implements OnModuleInit {
  private readonly logger = new Logger('TrustedIssuers');
  private readonly issuers = new Map<string, Issuer>();
  /** Tokens that passed, in insertion order (the oldest goes first), within `jwt.verifiedTokenCacheMb` of their own. */
  private readonly verified = new Map<string, ExternalVerification & { bytes: number }>();
  private verifiedBytes = 0;
  private readonly maxVerifiedBytes: number;
  private readonly clockTolerance: number;
  private readonly maxTokenLength: number;
  /** False when the app issues no tokens of its own: a token of no trusted issuer is then refused here. */
  private readonly ownTokens: boolean;
  private readonly failing = new Set<Issuer>();

  constructor(
    private readonly gate: RevocationGate,
    @Inject(AUTH_OPTIONS) private readonly options: TrustedIssuerSettings,
  ) {
    const now = () => options.clock.now();
    for (const config of options.trustedIssuers ?? []) this.issuers.set(config.issuer, { config, keys: new RemoteKeySet(config, now) });
    this.clockTolerance = options.jwt.clockTolerance;
    this.maxTokenLength = options.jwt.maxTokenLength;
    this.ownTokens = options.issuesTokens !== false;
    this.maxVerifiedBytes = Math.floor(options.jwt.verifiedTokenCacheMb * 1024 * 1024);
  }

  get enabled(): boolean {
    return this.issuers.size > 0;
  }

  /** Reads every provider's keys: `onUnreachable: 'fail'` fails the boot when one cannot be read, `'retry'` logs and reads again on the first token. */
  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    if (!this.ownTokens) {
      this.logger.log(
        "trustedIssuers only (no jwt option): this app verifies its providers' tokens and issues none (login, refresh and createToken are off)",
      );
    }
    await Promise.all(
      [...this.issuers.values()].map(async (issuer) => {
        if (await issuer.keys.refresh()) return;
        const problem = issuer.keys.lastError?.message ?? 'unreadable';
        if (issuer.config.onUnreachable === 'fail') {
          throw new AuthConfigError(`${issuer.config.option}.onUnreachable`, `'fail': the provider's keys cannot be read (${problem})`);
        }
        this.noteFailure(issuer);
      }),
    );
  }

  /**
   * The authentication of a provider's token; undefined when the token names
   * no trusted issuer and the app has tokens of its own (they verify it).
   * Synchronous when the key set is fresh and holds the token's key.
   */
  authenticate(token: string): AuthContextData | Promise<AuthContextData> | undefined {
    const nowMs = this.options.clock.now();
    const hit = this.verified.get(token);
    if (hit !== undefined) {
      const keys = hit.issuer.keys;
      // A stale set is read again first, unless a read just failed: then its keys keep working, from the cache too.
      if (nowMs / 1000 - this.clockTolerance < hit.exp && keys.holds(hit.key) && (keys.isFresh(nowMs) || !keys.mayRead(nowMs))) {
        return this.admit(hit);
      }
      this.forget(token, hit.bytes);
    }
    const parts = this.route(token);
    if (parts === undefined) return undefined;
    const verified = this.verify(token, parts, nowMs);
    return verified instanceof Promise ? verified.then((v) => this.admit(v)) : this.admit(verified);
  }

  /**
   * The verified claims of a provider's token, for `revokeToken(token)`: null
   * when it has expired (nothing left to refuse), undefined when it is not a
   * trusted issuer's token (the app's own verifier takes it). No revocation
   * verdict: a revoked token can be revoked again.
   */
  async verifiedClaims(token: string): Promise<Readonly<Record<string, unknown>> | null | undefined> {
    if (!this.enabled) return undefined;
    const parts = this.route(token);
    if (parts === undefined) return undefined;
    try {
      return (await this.verify(token, parts, this.options.clock.now())).claims;
    } catch (err) {
      if (err instanceof AuthError && err.code === 'token_expired') return null;
      throw err;
    }
  }

  /** The revocation verdict (jti, per-subject cut-off), then a fresh context over the shared verification. */
  private admit(v: ExternalVerification): AuthContextData | Promise<AuthContextData> {
    const verdict = this.gate.check(v.gateClaims);
    if (verdict === null) return contextOf(v);
    if (typeof verdict === 'string') throw new AuthError(verdict, 'revocation_gate');
    return verdict.then((answer) => {
      if (answer !== null) throw new AuthError(answer, 'revocation_gate');
      return contextOf(v);
    });
  }

  /** The token's segments and its issuer, or undefined for a token that is not a trusted issuer's (when the app has its own). */
  private route(
    token: string,
  ): { issuer: Issuer; header: string; payload: Record<string, unknown>; signingInput: string; signature: string } | undefined {
    try {
      if (typeof token !== 'string' || token.length === 0 || token.length > this.maxTokenLength) invalid('Malformed token');
      const first = token.indexOf('.');
      const second = first < 0 ? -1 : token.indexOf('.', first + 1);
      if (second < 0 || token.indexOf('.', second + 1) !== -1) invalid('Malformed token');
      // Parsed strictly (a member twice, bad UTF-8, deep nesting are refused) before anything in it is used.
      const payload = parseJsonObject(decodeSegment(token.slice(first + 1, second)));
      const issuer = typeof payload.iss === 'string' ? this.issuers.get(payload.iss) : undefined;
      if (issuer === undefined) invalid('Unknown issuer');
      return { issuer, header: token.slice(0, first), payload, signingInput: token.slice(0, second), signature: token.slice(second + 1) };
    } catch (err) {
      // The app's own verifier gives its own answer to a token that is not a provider's.
      if (this.ownTokens) return undefined;
      throw err;
    }
  }

  private verify(
    token: string,
    parts: { issuer: Issuer; header: string; payload: Record<string, unknown>; signingInput: string; signature: string },
    nowMs: number,
  ): ExternalVerification | Promise<ExternalVerification> {
    const { issuer } = parts;
    const config = issuer.config;
    const header = parseJsonObject(decodeSegment(parts.header));
    // No extension is understood, so any `crit` (and RFC 7797's b64:false) is refused (RFC 7515 §4.1.11).
    if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) invalid('Unsupported critical header');
    for (const name of KEY_CARRYING_HEADERS) if (header[name] !== undefined) invalid('Key carried in the token');
    const alg = header.alg;
    if (typeof alg !== 'string' || !(config.algorithms as readonly string[]).includes(alg)) invalid('Algorithm not allowed for this issuer');
    if (!typeAccepted(header.typ, config.tokenType)) invalid('Wrong token type');
    const kid = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > 256)) invalid('Malformed kid');
    checkSegment(parts.signature);
    const signature = Buffer.from(parts.signature, 'base64url');
    const check = (key: RingKey): ExternalVerification => this.checkClaims(token, parts, key, nowMs);

    const keys = issuer.keys;
    if (keys.isFresh(nowMs)) {
      const key = this.signedBy(issuer, kid, alg as JwsAlgorithm, parts.signingInput, signature);
      if (key !== undefined) return check(key);
      // A kid (or an algorithm) the set does not hold: maybe new keys; read again at most once per cool-down.
      if (!keys.mayRead(nowMs)) invalid('Unknown key');
    } else if (!keys.mayRead(nowMs)) {
      // Stale or never read, and the last read failed within the cool-down: the cached keys only.
      const key = keys.loaded ? this.signedBy(issuer, kid, alg as JwsAlgorithm, parts.signingInput, signature) : undefined;
      if (key !== undefined) return check(key);
      throw new AuthError('auth_unavailable', 'provider_unreachable');
    }
    return keys.refresh().then((ok) => {
      if (!ok) this.noteFailure(issuer);
      else this.noteRecovery(issuer);
      // A failed read keeps the keys already cached (stale or not): they still verify.
      const key = keys.loaded ? this.signedBy(issuer, kid, alg as JwsAlgorithm, parts.signingInput, signature) : undefined;
      if (key !== undefined) return check(key);
      if (!ok) throw new AuthError('auth_unavailable', 'provider_unreachable');
      return invalid('Unknown key');
    });
  }

  /** The key of the set that verifies the signature; undefined when the set has no key for the header; throws on a bad signature. */
  private signedBy(issuer: Issuer, kid: string | undefined, alg: JwsAlgorithm, input: string, signature: Buffer): RingKey | undefined {
    const candidates = issuer.keys.candidates(kid, alg);
    if (candidates.length === 0) return undefined;
    let sameAlg = false;
    for (const key of candidates) {
      if (key.alg !== alg) continue;
      sameAlg = true;
      if (verifySignature(alg, key.verifyKey, input, signature)) return key;
    }
    // The kid names a key of another algorithm (RFC 8725 §3.1: a key is bound to one algorithm).
    return invalid(sameAlg ? 'Bad signature' : 'Algorithm does not match the key');
  }

  private checkClaims(token: string, parts: { issuer: Issuer; payload: Record<string, unknown> }, key: RingKey, nowMs: number): ExternalVerification {
    const { issuer, payload: claims } = parts;
    const config = issuer.config;
    const nowSeconds = nowMs / 1000;
    const tolerance = this.clockTolerance;
    const { exp, iat, nbf, jti, sub } = claims;
    if (!isNumericDate(exp) || !isNumericDate(iat)) invalid('exp and iat must be NumericDates');
    if (nbf !== undefined && !isNumericDate(nbf)) invalid('nbf must be a NumericDate');
    if (typeof sub !== 'string' || sub.length === 0) invalid('sub must be a non-empty string');
    if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > 255)) invalid('jti must be a non-empty string');
    if (exp < iat || exp - iat > config.maxTokenLifetime) invalid('Token lifetime out of bounds');
    if (iat > nowSeconds + tolerance) invalid('Token issued in the future');
    if (nbf !== undefined && nbf > nowSeconds + tolerance) invalid('Token not valid yet');
    if (nowSeconds - tolerance >= exp) throw new AuthError('token_expired', 'The token has expired');
    if (!audienceMatches(claims, config)) invalid('Wrong audience');
    for (const [name, value] of Object.entries(config.requiredClaims)) if (claims[name] !== value) invalid(`Wrong ${name}`);
    // A token bound to a key (RFC 9449 cnf.jkt, RFC 8705 cnf.x5t#S256) proves nothing without its proof: never a bearer token.
    if (claims.cnf !== undefined) invalid('Sender-constrained token used as a bearer token');

    const frozen = Object.freeze(claims);
    let mapped: Pick<ExternalVerification, 'username' | 'isStaff' | 'isSuperuser' | 'permissions'>;
    try {
      const permissions = config.mapping.permissions(frozen);
      const username = config.mapping.username(frozen);
      mapped = {
        permissions: Array.isArray(permissions) ? permissions.filter((p): p is string => typeof p === 'string') : [],
        username: typeof username === 'string' && username.length > 0 ? username : undefined,
        isStaff: config.mapping.isStaff(frozen) === true,
        isSuperuser: config.mapping.isSuperuser(frozen) === true,
      };
    } catch (err) {
      // The app's mapping threw: the call is refused (401), and the app hears of it (never with the token).
      this.logger.warn(`${config.option}.claims: the mapping threw (${err instanceof Error ? err.message.slice(0, 200) : 'error'})`);
      invalid('Claims mapping failed');
    }
    Object.freeze(mapped.permissions);
    const v: ExternalVerification = {
      issuer,
      key,
      claims: frozen,
      exp,
      gateClaims: { jti: typeof jti === 'string' ? jti : '', sub, iat },
      userId: sub,
      ...mapped,
    };
    this.keep(token, v);
    return v;
  }

  private keep(token: string, v: ExternalVerification): void {
    const bytes = entryBytes(token);
    if (bytes > this.maxVerifiedBytes) return;
    const held = this.verified.get(token);
    if (held !== undefined) this.forget(token, held.bytes);
    while (this.verifiedBytes + bytes > this.maxVerifiedBytes) {
      const [oldest, entry] = this.verified.entries().next().value!;
      this.forget(oldest, entry.bytes);
    }
    this.verified.set(token, { ...v, bytes });
    this.verifiedBytes += bytes;
  }

  private forget(token: string, bytes: number): void {
    this.verified.delete(token);
    this.verifiedBytes -= bytes;
  }

  private noteFailure(issuer: Issuer): void {
    if (this.failing.has(issuer)) return;
    this.failing.add(issuer);
    this.logger.warn(
      `${issuer.config.issuer}: keys cannot be read (${issuer.keys.lastError?.message ?? 'unreadable'}); cached keys keep working, tokens under other keys get 503 until a read succeeds`,
    );
  }

  private noteRecovery(issuer: Issuer): void {
    if (this.failing.delete(issuer)) this.logger.log(`${issuer.config.issuer}: keys read again`);
  }
}

/** RFC 9068 §4: `at+jwt` (or `application/at+jwt`); `JWT` mode also takes `JWT` and no `typ`, as most providers send. */
function typeAccepted(typ: unknown, mode: 'at+jwt' | 'JWT'): boolean {
  if (typ === undefined) return mode === 'JWT';
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  if (t === 'at+jwt' || t === 'application/at+jwt') return true;
  return mode === 'JWT' && t === 'jwt';
}

function audienceMatches(claims: Record<string, unknown>, config: ResolvedTrustedIssuer): boolean {
  for (const name of config.audienceClaims) {
    const aud = claims[name];
    if (aud === undefined) continue;
    if (typeof aud === 'string') return config.audiences.includes(aud);
    return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && config.audiences.includes(a));
  }
  return false;
}

function contextOf(v: ExternalVerification): AuthContextData {
  return {
    userId: v.userId,
    username: v.username,
    isStaff: v.isStaff,
    isSuperuser: v.isSuperuser,
    permissions: v.permissions,
    backend: 'jwt',
    claims: v.claims,
    issuer: v.issuer.config.issuer,
  };
}
