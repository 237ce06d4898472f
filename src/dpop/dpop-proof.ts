import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import { ALGORITHMS } from '../tokens/algorithms.js';
import { checkSegment, decodeSegment } from '../tokens/base64url.js';
import { verifySignature } from '../tokens/jws.js';
import { parseJsonObject } from '../tokens/strict-json.js';
import type { JwsAlgorithm } from '../tokens/token.types.js';

/** The proof algorithms accepted when the issuer's `dpopOptions.algorithms` is not given: asymmetric only (RFC 9449 §4.2). */
export const DEFAULT_DPOP_ALGORITHMS: readonly JwsAlgorithm[] = ['ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA'];

/** A proof is a few hundred bytes (an RSA-4096 jwk makes it about 1.5 KB): anything far larger is not one. */
const MAX_PROOF_LENGTH = 8192;
const MIN_RSA_BITS = 2048;
/** Members that only a private (or symmetric) JWK has: a proof carrying them leaks its key and is refused (RFC 9449 §4.2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const CURVES: Partial<Record<JwsAlgorithm, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** What the request says the proof must match: its method and its URL as the client addressed it. */
export interface DpopRequest {
  method: string;
  /** Absolute; query and fragment are ignored (RFC 9449 §4.3). */
  url: string;
}

export interface DpopProofSettings {
  algorithms: readonly JwsAlgorithm[];
  /** How old a proof's `iat` may be, in seconds. */
  maxAgeSeconds: number;
  /** The module's leeway, in seconds, for a proof made by a client whose clock runs ahead. */
  clockTolerance: number;
}

export interface VerifiedDpopProof {
  /** The RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt` must equal it. */
  jkt: string;
  jti: string;
  iat: number;
  nonce: string | undefined;
}

/** A refused proof: 401 `token_invalid` with `error="invalid_dpop_proof"` in the DPoP challenge. */
export class DpopProofError extends AuthError {
  constructor(reason: string) {
    super('token_invalid', `dpop_${reason}`);
  }
}

function refuse(reason: string): never {
  throw new DpopProofError(reason);
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3) against the request and the access
 * token it accompanies: one compact JWS, parsed with the module's strict
 * parser, `typ` `dpop+jwt`, an allowed asymmetric algorithm, a public `jwk`
 * that fits the algorithm and verifies the signature, `htm`/`htu` of this
 * request, `iat` within the window, and `ath` the token's hash. The `jti` is
 * returned for the replay store; the binding (`cnf.jkt`) is the caller's.
 */
export function verifyDpopProof(
  proof: unknown,
  request: DpopRequest,
  accessToken: string,
  nowSeconds: number,
  settings: DpopProofSettings,
): VerifiedDpopProof {
  // Several DPoP headers arrive joined with commas: exactly one proof is allowed (§4.3, check 1).
  if (typeof proof !== 'string' || proof.length === 0) refuse('missing');
  if (proof.length > MAX_PROOF_LENGTH) refuse('too_large');
  const first = proof.indexOf('.');
  const second = first < 0 ? -1 : proof.indexOf('.', first + 1);
  if (second < 0 || proof.indexOf('.', second + 1) !== -1) refuse('malformed');
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  let signature: Buffer;
  try {
    header = parseJsonObject(decodeSegment(proof.slice(0, first)));
    payload = parseJsonObject(decodeSegment(proof.slice(first + 1, second)));
    const sig = proof.slice(second + 1);
    checkSegment(sig);
    signature = Buffer.from(sig, 'base64url');
  } catch {
    return refuse('malformed');
  }
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') refuse('wrong_typ');
  if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) refuse('crit');
  const alg = header.alg;
  if (typeof alg !== 'string' || !(settings.algorithms as readonly string[]).includes(alg)) refuse('alg_not_allowed');
  // The key is the one in the header, never one fetched from elsewhere.
  if (header.jku !== undefined || header.x5u !== undefined || header.x5c !== undefined || header.kid !== undefined) refuse('foreign_key_reference');
  const key = publicKeyOf(header.jwk, alg as JwsAlgorithm);
  if (!verifySignature(alg as JwsAlgorithm, key.object, proof.slice(0, second), signature)) refuse('bad_signature');

  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) refuse('bad_jti');
  if (htm !== request.method) refuse('htm_mismatch');
  if (typeof htu !== 'string' || normalizedHtu(htu) !== normalizedHtu(request.url)) refuse('htu_mismatch');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) refuse('bad_iat');
  if (iat > nowSeconds + settings.clockTolerance) refuse('iat_in_future');
  if (iat < nowSeconds - settings.maxAgeSeconds - settings.clockTolerance) refuse('iat_too_old');
  if (typeof ath !== 'string' || ath !== accessTokenHash(accessToken)) refuse('ath_mismatch');
  if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 255)) refuse('bad_nonce');
  return { jkt: key.thumbprint, jti, iat, nonce: nonce as string | undefined };
}

/** `ath`: base64url(SHA-256(ASCII(access token))) (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url');
}

/**
 * The URL without query and fragment, after the syntax- and scheme-based
 * normalisation of RFC 3986 §6.2.2-3 that WHATWG URL parsing performs
 * (lower-case scheme and host, default port dropped, dot segments resolved,
 * an empty path as "/"). Undefined for a string that is not an http(s) URL.
 */
export function normalizedHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** The public key of the proof's `jwk`, checked against the algorithm, and its RFC 7638 thumbprint. */
function publicKeyOf(jwk: unknown, alg: JwsAlgorithm): { object: KeyObject; thumbprint: string } {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return refuse('jwk_missing');
  const k = jwk as Record<string, unknown>;
  for (const member of PRIVATE_MEMBERS) if (k[member] !== undefined) refuse('jwk_private');
  if (k.alg !== undefined && k.alg !== alg) refuse('jwk_alg_mismatch');
  if (k.use !== undefined && k.use !== 'sig') refuse('jwk_use');
  const family = ALGORITHMS[alg].family;
  let required: Record<string, unknown>;
  if (family === 'ec') {
    if (k.kty !== 'EC' || k.crv !== CURVES[alg]) refuse('jwk_does_not_fit_alg');
    required = { crv: k.crv, kty: k.kty, x: k.x, y: k.y };
  } else if (family === 'rsa' || family === 'rsa-pss') {
    if (k.kty !== 'RSA') refuse('jwk_does_not_fit_alg');
    required = { e: k.e, kty: k.kty, n: k.n };
  } else if (family === 'eddsa') {
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519') refuse('jwk_does_not_fit_alg');
    required = { crv: k.crv, kty: k.kty, x: k.x };
  } else {
    return refuse('alg_not_allowed');
  }
  for (const [name, value] of Object.entries(required)) {
    if (typeof value !== 'string' || value.length === 0 || value.length > 1400) refuse('jwk_malformed');
    if (name === 'kty' || name === 'crv') continue;
    try {
      checkSegment(value);
    } catch {
      refuse('jwk_malformed');
    }
  }
  let object: KeyObject;
  try {
    // Only the public members go to node: nothing else in the jwk can change what key it is.
    object = createPublicKey({ key: required as never, format: 'jwk' });
  } catch {
    return refuse('jwk_malformed');
  }
  if (family === 'rsa' || family === 'rsa-pss') {
    if ((object.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) refuse('jwk_too_weak');
  }
  return { object, thumbprint: jwkThumbprint(required) };
}

/** RFC 7638: SHA-256 over the required members, in lexicographic order, without whitespace (the caller passes them sorted). */
function jwkThumbprint(required: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}
