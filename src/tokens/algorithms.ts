import type { JwsAlgorithm } from './token.types.js';

export type KeyFamily = 'hmac' | 'rsa' | 'rsa-pss' | 'ec' | 'eddsa';

export interface AlgorithmSpec {
  family: KeyFamily;
  /** Digest for node:crypto (null for EdDSA, which hashes internally). */
  hash: string | null;
  /** Bytes: the HMAC key minimum (RFC 7518 §3.2), the PSS salt, the EC coordinate size. */
  size: number;
  /** node:crypto's name of the curve, for ES*. */
  curve?: string;
}

export const ALGORITHMS: Readonly<Record<JwsAlgorithm, AlgorithmSpec>> = {
  HS256: { family: 'hmac', hash: 'sha256', size: 32 },
  HS384: { family: 'hmac', hash: 'sha384', size: 48 },
  HS512: { family: 'hmac', hash: 'sha512', size: 64 },
  RS256: { family: 'rsa', hash: 'sha256', size: 32 },
  RS384: { family: 'rsa', hash: 'sha384', size: 48 },
  RS512: { family: 'rsa', hash: 'sha512', size: 64 },
  PS256: { family: 'rsa-pss', hash: 'sha256', size: 32 },
  PS384: { family: 'rsa-pss', hash: 'sha384', size: 48 },
  PS512: { family: 'rsa-pss', hash: 'sha512', size: 64 },
  ES256: { family: 'ec', hash: 'sha256', size: 32, curve: 'prime256v1' },
  ES384: { family: 'ec', hash: 'sha384', size: 48, curve: 'secp384r1' },
  ES512: { family: 'ec', hash: 'sha512', size: 66, curve: 'secp521r1' },
  EdDSA: { family: 'eddsa', hash: null, size: 64 },
};

export function isAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ALGORITHMS, value);
}
