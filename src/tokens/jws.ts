import { createHmac, sign, timingSafeEqual, verify, constants, type KeyObject } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import { ALGORITHMS } from './algorithms.js';
import { decodeSegment } from './base64url.js';
import type { KeyRing, RingKey } from './key-ring.js';
import { parseJsonObject } from './strict-json.js';
import type { JwsAlgorithm } from './token.types.js';

export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Buffer;
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

  const header = parseJsonObject(decodeSegment(token.slice(0, first)));
  const payload = decodeSegment(token.slice(first + 1, second));
  const signature = decodeSegment(token.slice(second + 1));
  // No extension is understood, so any `crit` (and with it RFC 7797's b64:false) is refused (RFC 7515 §4.1.11).
  if (header.crit !== undefined || (header.b64 !== undefined && header.b64 !== true)) {
    throw new AuthError('token_invalid', 'Unsupported critical header');
  }
  const key = ring.select(header);
  if (!verifySignature(key.alg, key.verifyKey, Buffer.from(token.slice(0, second), 'ascii'), signature)) {
    throw new AuthError('token_invalid', 'Bad signature');
  }
  return { header, payload, key };
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

export function verifySignature(alg: JwsAlgorithm, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  const spec = ALGORITHMS[alg];
  switch (spec.family) {
    case 'hmac': {
      const mac = createHmac(spec.hash!, key).update(input).digest();
      return mac.length === signature.length && timingSafeEqual(mac, signature);
    }
    case 'rsa-pss':
      return verify(spec.hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.size }, signature);
    case 'ec':
      // R || S of exactly the curve's size (RFC 7518 §3.4); no DER, no shorter forms.
      return signature.length === 2 * spec.size && verify(spec.hash, input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'rsa':
      return verify(spec.hash, input, key, signature);
    default:
      return signature.length === 64 && verify(null, input, key, signature);
  }
}
