import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { AuthContextData } from '../context/auth-context.js';
import type { DpopPresentation } from '../credentials/credential.js';
import { DpopProofError, verifyDpopProof, type DpopRequest } from '../dpop/dpop-proof.js';
import { connectDpopRedis, InMemoryDpopReplayStore, RedisDpopReplayStore, replayKeyOf, type DpopReplayStore } from '../dpop/dpop-replay.store.js';
import { DpopProofEntity } from '../dpop/dpop.entity.js';
import { AuthConfigError, AuthError } from '../errors/auth-error.js';
import type { TrustedIssuerSettings } from './trusted-issuer-settings.js';
import { boundStore } from '../persistence/bounded-store.js';
import { appDataSource } from '../persistence/app-data-source.js';
import { RevocationGate, type RevocationClaims } from '../revocation/revocation-gate.js';
import { checkSegment, decodeSegment } from '../tokens/base64url.js';
import { verifySignature } from '../tokens/jws.js';
import { tokenDigest } from '../tokens/token-digest.js';
import type { RingKey } from '../tokens/key-ring.js';
import { parseJsonObject } from '../tokens/strict-json.js';
import type { JwsAlgorithm } from '../tokens/token.types.js';
import { setResponseHeader } from '../call/response.js';
import { Introspector, type IntrospectionAnswer } from './introspection.js';
import { RemoteKeySet } from './remote-key-set.js';
import type { ResolvedDpop, ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** A provider's token that passed every check, with what the mapping made of it. */
interface ExternalVerification {
  issuer: Issuer;
  /** The provider's key that verified the token; undefined for an introspected (opaque) token. */
  key: RingKey | undefined;
  claims: Readonly<Record<string, unknown>>;
  /** `cnf.jkt`: the token is bound to this DPoP key (RFC 9449 §6.1). */
  jkt: string | undefined;
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
  /** With `dpop`: where used proofs are remembered (set when the module starts). */
  replay?: DpopReplayStore;
  /** With `introspection`. */
  introspector?: Introspector;
}

/**
 * The heap a kept verification costs beyond its token: the Map entry, the
 * entry and context objects; the claims decoded from the token cost about
 * as much again as its characters. An estimate, as the module's own cache's.
 */
const ENTRY_OVERHEAD_BYTES = 700;
/**
 * A kept verification is found by a SHA-256 of the whole token, never by the token itself: a provider's RS256
 * token is 700 characters or more, and keyed by its text 20,000 of them outgrew the default bound, so that
 * round robin over them never hit. A different token, in any byte, has another key (up to a 2^-128 chance).
 */
const keyOf = tokenDigest;
/** A key's characters (32 latin1 characters, one a byte of the digest). */
const KEY_CHARS = 32;
/** What a kept verification costs: its key, the objects, the claims (about twice their encoded characters). */
function entryBytes(token: string): number {
  const start = token.indexOf('.');
  const end = start < 0 ? -1 : token.indexOf('.', start + 1);
  const claimChars = end > start ? end - start - 1 : token.length;
  return ENTRY_OVERHEAD_BYTES + KEY_CHARS + 2 * claimChars;
}
/** Header members that would carry or point to a key: the key is always the provider's, never the token's. */
const KEY_CARRYING_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'];

/** The 401 codes a challenge goes with (RFC 6750 §3). */
const CHALLENGED_CODES = new Set(['token_missing', 'token_invalid', 'token_expired', 'token_revoked']);

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
export class TrustedIssuers implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('TrustedIssuers');
  private readonly issuers = new Map<string, Issuer>();
  /** Tokens that passed, by `keyOf`, in insertion order (the oldest goes first), within `jwt.verifiedTokenCacheMb` of their own. */
  private readonly verified = new Map<string, ExternalVerification & { bytes: number }>();
  private verifiedBytes = 0;
  private readonly maxVerifiedBytes: number;
  private readonly clockTolerance: number;
  private readonly maxTokenLength: number;
  /** False when the app issues no tokens of its own: a token of no trusted issuer is then refused here. */
  private readonly ownTokens: boolean;
  private readonly failing = new Set<Issuer>();
  /** The `algs` of the DPoP challenge: every algorithm a proof may use for some issuer. */
  private readonly dpopAlgs: string;
  private readonly closers: Array<() => Promise<void>> = [];
  /** Issuers with `introspection`, in their order: an opaque token is theirs. */
  private readonly introspecting: Issuer[] = [];
  private readonly introspectionWarnedAt = new Map<Issuer, number>();

  constructor(
    private readonly gate: RevocationGate,
    @Inject(AUTH_OPTIONS) private readonly options: TrustedIssuerSettings,
    @Optional() private readonly moduleRef?: ModuleRef,
  ) {
    const now = () => options.clock.now();
    for (const config of options.trustedIssuers ?? []) {
      const issuer: Issuer = { config, keys: new RemoteKeySet(config, now) };
      if (config.introspection !== undefined) {
        issuer.introspector = new Introspector(config, config.introspection, now);
        this.introspecting.push(issuer);
      }
      this.issuers.set(config.issuer, issuer);
    }
    this.clockTolerance = options.jwt.clockTolerance;
    this.maxTokenLength = options.jwt.maxTokenLength;
    this.ownTokens = options.issuesTokens !== false;
    this.maxVerifiedBytes = Math.floor(options.jwt.verifiedTokenCacheMb * 1024 * 1024);
    this.dpopAlgs = [...new Set((options.trustedIssuers ?? []).flatMap((c) => c.dpop?.algorithms ?? []))].join(' ');
  }

  /** Some issuer takes DPoP-bound tokens: the `DPoP` scheme means something to this app. */
  get acceptsDpop(): boolean {
    return this.dpopAlgs.length > 0;
  }

  /**
   * A refusal's challenge where some issuer takes DPoP (RFC 9449 §7.2, RFC 9110 §11.6.1 allows several): a call with
   * no credential at all gets `Bearer, DPoP algs="..."` with no `error` (RFC 6750 §3.1; `DPoP algs` alone when no
   * bearer token is taken: every issuer requires DPoP and the app issues none); a bearer credential that failed gets
   * `Bearer error="invalid_token", DPoP algs="..."`: the error on the scheme the call used, the other one offered.
   * A refusal that names its own challenge (a DPoP call's), another code, or an app without DPoP: as it is.
   */
  challenge(err: AuthError, tokenPresented: boolean): AuthError {
    if (!this.acceptsDpop || !CHALLENGED_CODES.has(err.code) || (err as { responseHeaders?: unknown }).responseHeaders !== undefined) return err;
    const dpop = `DPoP algs="${this.dpopAlgs}"`;
    if (tokenPresented) return withHeaders(err, { 'WWW-Authenticate': `Bearer error="invalid_token", ${dpop}` });
    this.takesBearer ??= this.ownTokens || [...this.issuers.values()].some((issuer) => issuer.config.dpop?.mode !== 'required');
    return withHeaders(err, { 'WWW-Authenticate': this.takesBearer ? `Bearer, ${dpop}` : dpop });
  }

  /** Whether any bearer token is taken here (computed once). */
  private takesBearer: boolean | undefined;

  get enabled(): boolean {
    return this.issuers.size > 0;
  }

  /** Reads every provider's keys: `onUnreachable: 'fail'` fails the boot when one cannot be read, `'retry'` logs and reads again on the first token. */
  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    await this.resolveReplayStores();
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
  authenticate(token: string, dpop?: DpopPresentation): AuthContextData | Promise<AuthContextData> | undefined {
    if (dpop === undefined) return this.authenticateToken(token, undefined);
    // Sent with the DPoP scheme: every refusal answers a DPoP challenge (RFC 9449 §7.1).
    try {
      const result = this.authenticateToken(token, dpop);
      if (result === undefined) invalid('DPoP scheme with a token of no trusted issuer');
      return result instanceof Promise ? result.catch((err: unknown) => this.challenged(err, 'invalid_token')) : result;
    } catch (err) {
      return this.challenged(err, 'invalid_token');
    }
  }

  private authenticateToken(token: string, dpop: DpopPresentation | undefined): AuthContextData | Promise<AuthContextData> | undefined {
    const nowMs = this.options.clock.now();
    // No digest with the cache off (`jwt.verifiedTokenCacheMb: 0`): nothing could be found by it.
    const hit = this.maxVerifiedBytes === 0 ? undefined : this.verified.get(keyOf(token));
    if (hit !== undefined) {
      const keys = hit.issuer.keys;
      // A stale set is read again first, unless a read just failed: then its keys keep working, from the cache too.
      if (
        nowMs / 1000 - this.clockTolerance < hit.exp &&
        hit.key !== undefined &&
        keys.holds(hit.key) &&
        (keys.isFresh(nowMs) || !keys.mayRead(nowMs))
      ) {
        return this.admit(hit, token, dpop, nowMs);
      }
      this.forget(keyOf(token), hit.bytes);
    }
    if (this.introspecting.length > 0 && !isCompactJws(token)) {
      if (token.length > this.maxTokenLength) invalid('Malformed token');
      const answer = this.introspected(token, nowMs);
      return answer instanceof Promise ? answer.then((v) => this.admit(v, token, dpop, nowMs)) : this.admit(answer, token, dpop, nowMs);
    }
    const parts = this.route(token);
    if (parts === undefined) return undefined;
    const verified = this.verify(token, parts, nowMs);
    return verified instanceof Promise ? verified.then((v) => this.admit(v, token, dpop, nowMs)) : this.admit(verified, token, dpop, nowMs);
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

  /** The DPoP binding (its proof, once), the revocation verdict (jti, per-subject cut-off), then a fresh context over the shared verification. */
  private admit(
    v: ExternalVerification,
    token: string,
    dpop: DpopPresentation | undefined,
    nowMs: number,
  ): AuthContextData | Promise<AuthContextData> {
    const introspection = v.issuer.config.introspection;
    // `tokens: 'all'`: a verified JWT is still asked about (the provider may have revoked it).
    if (introspection?.tokens === 'all' && v.key !== undefined) {
      const afterAnswer = (answer: IntrospectionAnswer) => {
        if (!answer.active) invalid('Token not active (introspection)');
        return this.bindAndAdmit(v, token, dpop, nowMs);
      };
      const answer = v.issuer.introspector!.introspect(token);
      if (!(answer instanceof Promise)) return afterAnswer(answer);
      return answer.then(afterAnswer, (err: unknown) => {
        this.noteIntrospectionFailure(v.issuer);
        throw err;
      });
    }
    return this.bindAndAdmit(v, token, dpop, nowMs);
  }

  private bindAndAdmit(
    v: ExternalVerification,
    token: string,
    dpop: DpopPresentation | undefined,
    nowMs: number,
  ): AuthContextData | Promise<AuthContextData> {
    const proven = this.bind(v, token, dpop, nowMs);
    if (proven !== undefined) return proven.then(() => this.admitVerdict(v));
    return this.admitVerdict(v);
  }

  private admitVerdict(v: ExternalVerification): AuthContextData | Promise<AuthContextData> {
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
    let first: number;
    let second: number;
    let payload: Record<string, unknown>;
    try {
      if (typeof token !== 'string' || token.length === 0 || token.length > this.maxTokenLength) invalid('Malformed token');
      first = token.indexOf('.');
      second = first < 0 ? -1 : token.indexOf('.', first + 1);
      if (second < 0 || token.indexOf('.', second + 1) !== -1) invalid('Malformed token');
      // Parsed strictly (a member twice, bad UTF-8, deep nesting are refused) before anything in it is used.
      payload = parseJsonObject(decodeSegment(token.slice(first + 1, second)));
    } catch (err) {
      // The app's own verifier gives its own answer to a token that is not a provider's.
      if (this.ownTokens) return undefined;
      throw err;
    }
    const issuer = typeof payload.iss === 'string' ? this.issuers.get(payload.iss) : undefined;
    if (issuer === undefined) {
      // Every own token missed by the caches comes here first: handed on without building a refusal (an
      // error and its stack trace cost more than the own verifier's whole miss).
      if (this.ownTokens) return undefined;
      invalid('Unknown issuer');
    }
    return { issuer, header: token.slice(0, first), payload, signingInput: token.slice(0, second), signature: token.slice(second + 1) };
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
    if (typeof sub !== 'string' || sub.length === 0) invalid('sub must be a non-empty string');
    if (jti !== undefined && (typeof jti !== 'string' || jti.length === 0 || jti.length > 255)) invalid('jti must be a non-empty string');
    if (exp < iat || exp - iat > config.maxTokenLifetime) invalid('Token lifetime out of bounds');
    if (iat > nowSeconds + tolerance) invalid('Token issued in the future');
    checkValidity(claims, config, nbf, exp, nowSeconds, tolerance);
    for (const [name, value] of Object.entries(config.requiredClaims)) if (claims[name] !== value) invalid(`Wrong ${name}`);
    const jkt = boundKeyOf(claims, config);

    const frozen = Object.freeze(claims);
    const v: ExternalVerification = {
      issuer,
      key,
      claims: frozen,
      jkt,
      exp,
      gateClaims: { jti: typeof jti === 'string' ? jti : '', sub, iat },
      userId: sub,
      ...this.mapped(config, frozen),
    };
    this.keep(token, v);
    return v;
  }

  /** What the issuer's claim mapping makes of verified claims; a mapping that throws refuses the call. */
  private mapped(
    config: ResolvedTrustedIssuer,
    frozen: Readonly<Record<string, unknown>>,
  ): Pick<ExternalVerification, 'username' | 'isStaff' | 'isSuperuser' | 'permissions'> {
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
    return mapped;
  }

  /**
   * An opaque token: the introspecting issuers are asked in their order, and the first that calls it active
   * (and names itself, when the answer has an `iss`) authenticates it; its answer is checked as a token's
   * claims would be (audience, expiry, the binding) and mapped by that issuer's mapping.
   */
  private introspected(token: string, nowMs: number, from = 0): ExternalVerification | Promise<ExternalVerification> {
    for (let i = from; i < this.introspecting.length; i++) {
      const issuer = this.introspecting[i]!;
      const answer = issuer.introspector!.introspect(token);
      if (answer instanceof Promise) {
        return answer.then(
          (a) =>
            a.active && this.names(a.claims, issuer)
              ? this.fromAnswer(issuer, a.claims, this.options.clock.now())
              : this.introspected(token, nowMs, i + 1),
          (err: unknown) => {
            this.noteIntrospectionFailure(issuer);
            throw err;
          },
        );
      }
      if (answer.active && this.names(answer.claims, issuer)) return this.fromAnswer(issuer, answer.claims, nowMs);
    }
    return invalid('Token not active (introspection)');
  }

  private names(claims: Readonly<Record<string, unknown>>, issuer: Issuer): boolean {
    return claims.iss === undefined || claims.iss === issuer.config.issuer;
  }

  /** An active introspection answer as a verification (RFC 7662 §2.2: only `active` is required; the rest is checked when present). */
  private fromAnswer(issuer: Issuer, claims: Readonly<Record<string, unknown>>, nowMs: number): ExternalVerification {
    const config = issuer.config;
    const nowSeconds = nowMs / 1000;
    const tolerance = this.clockTolerance;
    const { exp, iat, nbf, jti, sub, client_id: clientId, token_type: tokenType } = claims;
    if (exp !== undefined && !isNumericDate(exp)) invalid('exp must be a NumericDate');
    if (iat !== undefined && !isNumericDate(iat)) invalid('iat must be a NumericDate');
    // An access token only (a refresh token the provider would also call active is not one).
    if (tokenType !== undefined && (typeof tokenType !== 'string' || !['bearer', 'dpop', 'n_a'].includes(tokenType.toLowerCase()))) {
      invalid('Not an access token (introspection)');
    }
    // The validity window and the audience, as for a JWT.
    checkValidity(claims, config, nbf, exp, nowSeconds, tolerance);
    // A machine client's token (client_credentials) may name no subject: the client is the caller then.
    const userId = typeof sub === 'string' && sub.length > 0 ? sub : typeof clientId === 'string' && clientId.length > 0 ? clientId : undefined;
    if (userId === undefined) invalid('No sub or client_id (introspection)');
    const jkt = boundKeyOf(claims, config);
    return {
      issuer,
      key: undefined,
      claims,
      jkt,
      exp: typeof exp === 'number' ? exp : Infinity,
      // No iat: 0, so a per-subject cut-off refuses it (the safe side).
      gateClaims: { jti: typeof jti === 'string' ? jti : '', sub: userId, iat: typeof iat === 'number' ? iat : 0 },
      userId,
      ...this.mapped(config, claims),
    };
  }

  private noteIntrospectionFailure(issuer: Issuer): void {
    const now = this.options.clock.now();
    if (now - (this.introspectionWarnedAt.get(issuer) ?? -Infinity) < 60_000) return;
    this.introspectionWarnedAt.set(issuer, now);
    this.logger.warn(`${issuer.config.issuer}: introspection failed (${issuer.introspector!.lastError ?? 'unavailable'}); its opaque tokens get 503`);
  }

  private keep(token: string, v: ExternalVerification): void {
    const bytes = entryBytes(token);
    if (bytes > this.maxVerifiedBytes) return;
    const key = keyOf(token);
    const held = this.verified.get(key);
    if (held !== undefined) this.forget(key, held.bytes);
    while (this.verifiedBytes + bytes > this.maxVerifiedBytes) {
      const [oldest, entry] = this.verified.entries().next().value!;
      this.forget(oldest, entry.bytes);
    }
    this.verified.set(key, { ...v, bytes });
    this.verifiedBytes += bytes;
  }

  private forget(key: string, bytes: number): void {
    this.verified.delete(key);
    this.verifiedBytes -= bytes;
  }

  /**
   * RFC 9449 §7: a bound token needs its proof (never bearer use); a `'required'` issuer takes no unbound token;
   * a proof is verified against this request and this token, its key must be the token's, and its `jti` is
   * claimed in the replay store (the promise). Undefined when nothing is left to wait for.
   */
  private bind(v: ExternalVerification, token: string, dpop: DpopPresentation | undefined, nowMs: number): Promise<void> | undefined {
    const config = v.issuer.config.dpop;
    if (dpop === undefined) {
      if (v.jkt !== undefined) throw this.downgrade(new AuthError('token_invalid', 'dpop_bound_token_as_bearer'));
      if (config?.mode === 'required') throw this.downgrade(new AuthError('token_invalid', 'dpop_required'));
      return undefined;
    }
    if (config === undefined) invalid('DPoP scheme for an issuer without dpop');
    if (v.jkt === undefined) invalid('DPoP scheme with a token not bound to a key');
    const request = requestOf(dpop.carrier);
    if (request === undefined) throw new DpopProofError('not_over_http');
    const nowSeconds = nowMs / 1000;
    const proof = verifyDpopProof(dpop.proof, request, token, nowSeconds, {
      algorithms: config.algorithms,
      maxAgeSeconds: config.maxAgeSeconds,
      clockTolerance: this.clockTolerance,
    });
    if (proof.jkt !== v.jkt) throw new DpopProofError('jkt_mismatch');
    const nonce = config.nonces?.standing(proof.nonce, nowSeconds, this.clockTolerance);
    if (nonce === 'refused') throw this.nonceNeeded(config, nowSeconds);
    // Remembered until the proof would be refused as too old anyway.
    const expiresAt = Math.ceil((proof.iat + config.maxAgeSeconds + this.clockTolerance + 1) * 1000);
    const key = replayKeyOf(v.issuer.config.issuer, proof.jkt, proof.jti);
    return v.issuer.replay!.claim(key, expiresAt).then((first) => {
      if (!first) throw new DpopProofError('replayed');
      // RFC 9449 §8.2, §9: the next nonce in any response, here before the client's one goes stale (and only to DPoP
      // calls), in a response no cache keeps (the app's own Cache-Control, set later by its handler, wins).
      if (nonce === 'ageing') {
        setResponseHeader(dpop.carrier.response, 'DPoP-Nonce', config.nonces!.current(nowSeconds));
        setResponseHeader(dpop.carrier.response, 'Cache-Control', 'no-store');
      }
    });
  }

  /** A refusal of a DPoP call with its challenge: a bad proof is `invalid_dpop_proof`, a bad token `invalid_token`. */
  private challenged(err: unknown, fallback: 'invalid_token'): never {
    if (!(err instanceof AuthError) || (err.code !== 'token_invalid' && err.code !== 'token_expired' && err.code !== 'token_revoked')) throw err;
    if ((err as { responseHeaders?: unknown }).responseHeaders !== undefined) throw err;
    const error = err instanceof DpopProofError ? 'invalid_dpop_proof' : fallback;
    throw withHeaders(err, { 'WWW-Authenticate': `DPoP error="${error}", algs="${this.dpopAlgs}"` });
  }

  /** A bound token as a bearer token, or an unbound one where DPoP is required: both challenges, so the client learns DPoP is expected. */
  private downgrade(err: AuthError): AuthError {
    return withHeaders(err, { 'WWW-Authenticate': `Bearer error="invalid_token", DPoP algs="${this.dpopAlgs}"` });
  }

  private nonceNeeded(config: ResolvedDpop, nowSeconds: number): AuthError {
    return withHeaders(new DpopProofError('nonce_needed'), {
      'WWW-Authenticate': `DPoP error="use_dpop_nonce", algs="${this.dpopAlgs}"`,
      'DPoP-Nonce': config.nonces!.current(nowSeconds),
      'Cache-Control': 'no-store',
    });
  }

  /**
   * The replay store of each DPoP issuer: Redis when `dpopOptions.redis` says so, else the module's store (this
   * instance's memory, or the `auth_dpop_proofs` table of its TypeORM DataSource). Bounded like every store: a
   * store that fails or hangs is 503 `auth_unavailable`, and a proof is never accepted unclaimed.
   */
  private async resolveReplayStores(): Promise<void> {
    const now = () => this.options.clock.now();
    const timeoutMs = this.options.revocation.storeTimeoutMs;
    let shared: DpopReplayStore | undefined;
    for (const issuer of this.issuers.values()) {
      const dpop = issuer.config.dpop;
      if (dpop === undefined) continue;
      let store: DpopReplayStore;
      if (dpop.redis !== undefined) {
        const owned = typeof dpop.redis === 'string';
        let client;
        try {
          client = typeof dpop.redis === 'string' ? await connectDpopRedis(dpop.redis) : dpop.redis;
        } catch {
          throw new AuthConfigError(`${issuer.config.option}.dpopOptions.redis`, 'needs ioredis installed: npm install ioredis');
        }
        const redis = new RedisDpopReplayStore(client, dpop.redisKeyPrefix, now, owned);
        this.closers.push(() => redis.close());
        store = redis;
      } else {
        shared ??= await this.storeReplay(issuer.config.option);
        store = shared;
      }
      issuer.replay = boundStore(store, timeoutMs, 'dpopReplay');
    }
  }

  private async storeReplay(option: string): Promise<DpopReplayStore> {
    const store = this.options.store;
    const now = () => this.options.clock.now();
    if (store.type === 'memory') return new InMemoryDpopReplayStore(now);
    if (store.type === 'cache' && store.sessions !== 'typeorm') {
      throw new AuthConfigError(
        `${option}.dpopOptions.redis`,
        "is needed with store: 'cache': a cache cannot claim a proof atomically, so set dpopOptions.redis (a Redis URL or client) for the DPoP replay store",
      );
    }
    const dataSource = await appDataSource(this.moduleRef!, {
      name: store.dataSource,
      option: 'store',
      holds: "DPoP proofs' ids (the replay store)",
      entity: DpopProofEntity,
    });
    const { TypeOrmDpopReplayStore } = await import('../dpop/typeorm-dpop-replay.store.js');
    return new TypeOrmDpopReplayStore(dataSource, now);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.closers.map((close) => close()));
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

/** Exactly two dots: a JWS (a JWT); anything else is an opaque token. */
function isCompactJws(token: string): boolean {
  const first = token.indexOf('.');
  if (first < 0) return false;
  const second = token.indexOf('.', first + 1);
  return second >= 0 && token.indexOf('.', second + 1) === -1;
}

/** An AuthError that names the response headers of its refusal (the transports set them on HTTP). */
function withHeaders(err: AuthError, headers: Record<string, string>): AuthError {
  Object.defineProperty(err, 'responseHeaders', { value: Object.freeze(headers), enumerable: false });
  return err;
}

/**
 * The method and URL the proof must name (RFC 9449 §4.3), as the framework reports the request: Express's and
 * Fastify's `protocol` and `host` read `X-Forwarded-Proto`/`-Host` only from a proxy the app trusts (`trust proxy`,
 * `trustProxy`), else the socket and `Host` decide; the path is the original one (before any internal rewrite).
 * Undefined off HTTP (a WebSocket message, an RPC): there is no request for a proof to name.
 */
function requestOf(carrier: DpopPresentation['carrier']): DpopRequest | undefined {
  if (carrier.type !== 'http' && carrier.type !== 'graphql') return undefined;
  const req = carrier.target as {
    method?: unknown;
    originalUrl?: unknown;
    url?: unknown;
    protocol?: unknown;
    host?: unknown;
    headers?: Record<string, unknown>;
    socket?: { encrypted?: unknown };
  };
  if (typeof req.method !== 'string') return undefined;
  const path = typeof req.originalUrl === 'string' ? req.originalUrl : req.url;
  if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
  let protocol: unknown;
  let host: unknown;
  try {
    protocol = req.protocol;
    host = req.host;
  } catch {
    protocol = undefined;
  }
  if (typeof protocol !== 'string') protocol = req.socket?.encrypted === true ? 'https' : 'http';
  if (typeof host !== 'string' || host.length === 0) host = req.headers?.host;
  if (typeof host !== 'string' || host.length === 0) return undefined;
  return { method: req.method, url: `${(protocol as string).replace(/:$/, '')}://${host}${path}` };
}

/** RFC 9068 §4: `at+jwt` (or `application/at+jwt`); `JWT` mode also takes `JWT` and no `typ`, as most providers send. */
function typeAccepted(typ: unknown, mode: 'at+jwt' | 'JWT'): boolean {
  if (typ === undefined) return mode === 'JWT';
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  if (t === 'at+jwt' || t === 'application/at+jwt') return true;
  return mode === 'JWT' && t === 'jwt';
}

/** `nbf` and `exp` (when present) with the module's leeway, then the audience: a token for another API of the provider is not for this one. */
function checkValidity(
  claims: Record<string, unknown>,
  config: ResolvedTrustedIssuer,
  nbf: unknown,
  exp: number | undefined,
  nowSeconds: number,
  tolerance: number,
): void {
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > nowSeconds + tolerance)) invalid('Token not valid yet');
  if (exp !== undefined && nowSeconds - tolerance >= exp) throw new AuthError('token_expired', 'The token has expired');
  if (!audienceMatches(claims, config)) invalid('Wrong audience');
}

/**
 * The DPoP key a token is bound to (`cnf.jkt`, RFC 9449 §6), or undefined for an unbound token. A token bound to a
 * key (DPoP's cnf.jkt, mTLS's cnf.x5t#S256, RFC 8705) proves nothing without its proof: never a bearer token. Only
 * DPoP's binding can be checked here, and only for an issuer with `dpop`.
 */
function boundKeyOf(claims: Record<string, unknown>, config: ResolvedTrustedIssuer): string | undefined {
  if (claims.cnf === undefined) return undefined;
  const cnf = claims.cnf as Record<string, unknown>;
  if (config.dpop === undefined) invalid('Sender-constrained token used as a bearer token');
  if (typeof cnf !== 'object' || cnf === null || Object.keys(cnf).length !== 1 || typeof cnf.jkt !== 'string' || cnf.jkt.length !== 43) {
    invalid('Unsupported confirmation (cnf) of the token');
  }
  return cnf.jkt;
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
