import { createHmac, hash, sign, timingSafeEqual, verify, constants, type KeyObject } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import { ALGORITHMS } from './algorithms.js';
import { checkSegment, decodeSegment, decodeSegmentLatin1 } from './base64url.js';
import type { KeyRing, RingKey } from './key-ring.js';
import { parseJsonObject } from './strict-json.js';
import type { JwsAlgorithm } from './token.types.js';

export interface VerifiedJws {
  header: Record<string, unknown>;
  /** The payload's bytes as a latin1 string (one character per byte; `Buffer.from(payload, 'latin1')` gives them back). */
  payload: string;
  key: RingKey;
}

/**
 * The signature layer: a compact JWS (RFC 7515 §7.1) checked before any
 * crypto for length, shape, canonical base64url and a header we understand,
 * then its signature with the ring key its header selects. Says nothing of
 * the payload: the JWT layer does.
 */
export function verifyCompactJws(token: string, ring: KeyRing, maxLength: number): VerifiedJws {
  if (typeof token !== 'string' || token.length === 0 || token.length > maxLength) {
    throw new AuthError('token_invalid', 'Malformed token');
  }
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (second < 0 || token.indexOf('.', second + 1) !== -1) throw new AuthError('token_invalid', 'Malformed token');

  const memo = headerMemo.get(ring);
  let known: CheckedHeader | undefined;
  let headerSegment: string | undefined;
  // The header the last token under this ring carried, compared in place: nearly every token has it.
  const last = memo?.last;
  if (last !== undefined && first === last.segment.length && token.startsWith(last.segment)) known = last;
  else {
    headerSegment = token.slice(0, first);
    known = memo?.known.get(headerSegment);
    if (known !== undefined) memo!.last = known;
  }
  const checked = known ?? checkHeader(headerSegment!, ring);
  const payloadSegment = token.slice(first + 1, second);
  // Decoded to latin1 text through a scratch buffer: no Buffer per token for what the JSON parser reads as text.
  const payload = decodeSegmentLatin1(payloadSegment);
  const alg = checked.key.alg;
  let valid: boolean;
  if (ALGORITHMS[alg].family === 'hmac') {
    // The MAC's own (canonical) base64url against the segment: equal only when the segment is that
    // encoding, so no decoding and no separate canonical check are needed. The signing input is ASCII:
    // both segments passed the base64url check above.
    valid = hmacMatches(alg, checked.key.verifyKey, token, second);
  } else {
    const signatureSegment = token.slice(second + 1);
    checkSegment(signatureSegment);
    valid = verifySignature(alg, checked.key.verifyKey, token.slice(0, second), Buffer.from(signatureSegment, 'base64url'));
  }
  if (!valid) throw new AuthError('token_invalid', 'Bad signature');
  // Remembered only once a signature under it verified: a forger cannot fill the memo.
  if (known === undefined) rememberHeader(ring, headerSegment!, checked);
  return { header: checked.header, payload, key: checked.key };
}

interface CheckedHeader {
  header: Readonly<Record<string, unknown>>;
  key: RingKey;
  /** The segment it was read from, once remembered (a flat copy). */
  segment: string;
}

interface HeaderMemo {
  known: Map<string, CheckedHeader>;
  /** The one of them the last token carried. */
  last: CheckedHeader | undefined;
}

/**
 * Per ring, the header segments that already verified, with their parsed
 * header and key: one service signs with a handful of keys, so nearly every
 * token carries one of a few identical headers, and the same bytes always
 * parse and select the same way. Bounded; never evicts, simply stops adding.
 */
const MAX_KNOWN_HEADERS = 32;
const headerMemo = new WeakMap<KeyRing, HeaderMemo>();

function rememberHeader(ring: KeyRing, segment: string, checked: CheckedHeader): void {
  let memo = headerMemo.get(ring);
  if (memo === undefined) headerMemo.set(ring, (memo = { known: new Map(), last: undefined }));
  if (memo.known.size < MAX_KNOWN_HEADERS) {
    // A flat copy of the segment: a slice would keep the whole token alive.
    checked.segment = Buffer.from(segment, 'latin1').toString('latin1');
    memo.known.set(checked.segment, checked);
    memo.last = checked;
  }
}

function checkHeader(segment: string, ring: KeyRing): CheckedHeader {
  const header = parseJsonObject(decodeSegment(segment));
  // No extension is understood, so any `crit` (and with it RFC 7797's b64:false) is refused (RFC 7515 §4.1.11).
  if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) {
    throw new AuthError('token_invalid', 'Unsupported critical header');
  }
  return { header: Object.freeze(header), key: ring.select(header), segment: '' };
}

export function signCompactJws(header: Record<string, unknown>, payload: Buffer, key: RingKey): string {
  if (!key.signKey) throw new Error('This key ring has no signing key (verify-only configuration)');
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${payload.toString('base64url')}`;
  return `${input}.${signBytes(key.alg, key.signKey, Buffer.from(input, 'ascii')).toString('base64url')}`;
}

function signBytes(alg: JwsAlgorithm, key: KeyObject, input: Buffer): Buffer {
  const spec = ALGORITHMS[alg];
  switch (spec.family) {
    case 'hmac':
      return createHmac(spec.hash!, key).update(input).digest();
    case 'rsa-pss':
      return sign(spec.hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.size });
    case 'ec':
      return sign(spec.hash, input, { key, dsaEncoding: 'ieee-p1363' });
    default:
      return sign(spec.hash, input, key);
  }
}

/**
 * Whether the signature segment of `token` (after the dot at `second`) is the base64url HMAC (RFC 2104)
 * of its signing input (the characters before that dot, ASCII: see the caller), computed with two
 * one-shot hashes over the key's precomputed inner and outer pads: about half the CPU of a createHmac()
 * object per call (no Hmac object, no key import, no Buffer for the digest). The whole token is written
 * once, after the inner pad already in the key's own buffer, as UTF-8: one byte a character exactly
 * when it is all ASCII, so the signature's bytes are its characters and are compared where they lie,
 * in time that depends on the MAC's length only.
 */
function hmacMatches(alg: JwsAlgorithm, key: KeyObject, token: string, second: number): boolean {
  let pads = hmacPads.get(key);
  if (pads === undefined) hmacPads.set(key, (pads = padsOf(alg, key)));
  const block = pads.block;
  const n = token.length;
  // Room for the token's UTF-8 whatever it holds (at most 3 bytes a UTF-16 unit): the write never stops short.
  if (pads.input.length < block + 3 * n) {
    const input = Buffer.allocUnsafe(Math.max(block + 3 * n, 2 * pads.input.length));
    pads.input.copy(input, 0, 0, block);
    pads.input = input;
  }
  const input = pads.input;
  // A character beyond ASCII (never in a valid token) takes more than one byte.
  if (input.write(token, block, input.length - block, 'utf8') !== n) return false;
  const digest = hash(pads.hash, new Uint8Array(input.buffer, input.byteOffset, block + second), 'binary');
  pads.outer.write(digest, block, 'latin1');
  const mac = hash(pads.hash, pads.outer, 'base64url');
  if (n - second - 1 !== mac.length) return false;
  let diff = 0;
  for (let i = 0, j = block + second + 1; i < mac.length; i++, j++) diff |= mac.charCodeAt(i) ^ input[j];
  return diff === 0;
}

interface HmacPads {
  hash: string;
  block: number;
  /** key ⊕ ipad, one block, then room for a token: the inner hash's input (synchronous use only). */
  input: Buffer;
  /** key ⊕ opad, one block, then room for the inner digest. */
  outer: Buffer;
}

/** Per HMAC key object: its pads, derived once. */
const hmacPads = new WeakMap<KeyObject, HmacPads>();

function padsOf(alg: JwsAlgorithm, key: KeyObject): HmacPads {
  const name = ALGORITHMS[alg].hash!;
  const block = name === 'sha256' ? 64 : 128;
  let raw = key.export();
  // RFC 2104: a key longer than the block is hashed first.
  if (raw.length > block) raw = hash(name, raw, 'buffer');
  const input = Buffer.alloc(block + 3 * 1024, 0);
  input.fill(0x36, 0, block);
  const outer = Buffer.alloc(block + (name === 'sha256' ? 32 : name === 'sha384' ? 48 : 64), 0);
  outer.fill(0x5c, 0, block);
  for (let i = 0; i < raw.length; i++) {
    input[i] ^= raw[i];
    outer[i] ^= raw[i];
  }
  return { hash: name, block, input, outer };
}

/** `input` as a string is the ASCII signing input (`header.payload`), hashed without a Buffer copy for HMAC. */
export function verifySignature(alg: JwsAlgorithm, key: KeyObject, input: Buffer | string, signature: Buffer): boolean {
  const spec = ALGORITHMS[alg];
  if (spec.family === 'hmac') {
    const hmac = createHmac(spec.hash!, key);
    const mac = (typeof input === 'string' ? hmac.update(input, 'latin1') : hmac.update(input)).digest();
    return mac.length === signature.length && timingSafeEqual(mac, signature);
  }
  const data = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  switch (spec.family) {
    case 'rsa-pss':
      return verify(spec.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.size }, signature);
    case 'ec':
      // R || S of exactly the curve's size (RFC 7518 §3.4); no DER, no shorter forms.
      return signature.length === 2 * spec.size && verify(spec.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'rsa':
      return verify(spec.hash, data, key, signature);
    default:
      return signature.length === 64 && verify(null, data, key, signature);
  }
}
