import { createPrivateKey, createPublicKey, createSecretKey, KeyObject, type JsonWebKey } from 'node:crypto';
import type { JwtSettings } from './token-settings.js';
import { AuthConfigError, AuthError } from '../errors/auth-error.js';
import { ALGORITHMS, isAlgorithm } from './algorithms.js';
import { hasRocaFingerprint } from './roca.js';
import type { JwsAlgorithm, JwtKeyOptions } from './token.types.js';

/** A key bound to exactly one algorithm (RFC 8725 §3.1). */
export interface RingKey {
  kid?: string;
  alg: JwsAlgorithm;
  /** Absent on a verify-only key. */
  signKey?: KeyObject;
  verifyKey: KeyObject;
}

type KeyInput = string | Buffer | KeyObject;

/**
 * The keys the module signs and verifies with, imported once at boot and
 * checked there: a key that cannot work fails the boot with the option's
 * name, never a request. Verification picks among these keys only: by `kid`,
 * else by `alg`; never from `jku`, `jwk`, `x5u` or `x5c` in a token.
 */
export class KeyRing {
  private readonly byKid = new Map<string, RingKey>();
  private readonly byAlg = new Map<string, RingKey>();

  private constructor(
    readonly keys: readonly RingKey[],
    readonly signingKey: RingKey | undefined,
  ) {
    for (const key of keys) {
      if (key.kid !== undefined) this.byKid.set(key.kid, key);
      // For a token without `kid`: a kid-less key of its algorithm first, else the first key of it.
      const held = this.byAlg.get(key.alg);
      if (!held || (held.kid !== undefined && key.kid === undefined)) this.byAlg.set(key.alg, key);
    }
  }

  static fromOptions(jwt: JwtSettings): KeyRing {
    const keys = jwt.keys ? jwt.keys.map((k, i) => ringKeyOf(k, `jwt.keys[${i}]`)) : legacyKeys(jwt);
    checkKids(keys, 'jwt.keys');
    for (const alg of jwt.algorithms) {
      if (!keys.some((k) => k.alg === alg)) {
        const option = jwt.keys ? 'jwt.keys' : ALGORITHMS[alg].family === 'hmac' ? 'jwt.secret' : 'jwt.privateKey';
        throw new AuthConfigError(option, `no key for the chosen algorithm ${alg}`);
      }
    }
    for (const key of keys) {
      if (!jwt.algorithms.includes(key.alg)) {
        throw new AuthConfigError('jwt.algorithms', `does not allow ${key.alg}, the algorithm of key ${key.kid ?? '(no kid)'}`);
      }
    }
    const first = keys[0];
    return new KeyRing(keys, first?.signKey ? first : undefined);
  }

  /** A ring from a JWK Set (RFC 7517), as a verifier would import one: public keys or secrets, never both. */
  static fromJwks(set: { keys?: unknown }, option = 'jwks'): KeyRing {
    if (!Array.isArray(set?.keys) || set.keys.length === 0) throw new AuthConfigError(option, 'must be { keys: [...] }');
    const keys = set.keys.map((jwk, i) => importJwk(jwk as JsonWebKey, `${option}.keys[${i}]`));
    checkKids(keys, option);
    if (new Set(keys.map((k) => k.verifyKey.type === 'secret')).size > 1) {
      throw new AuthConfigError(option, 'mixes secret and public keys: a verifier could be tricked into using a public key as an HMAC secret');
    }
    return new KeyRing(keys, undefined);
  }

  /** The key for a token's protected header. Throws `token_invalid` when none fits. */
  select(header: Record<string, unknown>): RingKey {
    const { alg, kid } = header;
    let key: RingKey | undefined;
    if (kid !== undefined) {
      if (typeof kid !== 'string') throw new AuthError('token_invalid', 'Malformed kid');
      key = this.byKid.get(kid);
    } else if (typeof alg === 'string') {
      key = this.byAlg.get(alg);
    }
    if (key === undefined || key.alg !== alg) throw new AuthError('token_invalid', 'Unknown key or algorithm');
    return key;
  }

  /** The public keys as a JWK Set: `kid`, `alg`, `use: "sig"`. Secrets are never published. */
  toJwks(): { keys: Record<string, unknown>[] } {
    return {
      keys: this.keys
        .filter((k) => k.verifyKey.type === 'public')
        .map((k) => ({ ...k.verifyKey.export({ format: 'jwk' }), ...(k.kid ? { kid: k.kid } : {}), alg: k.alg, use: 'sig' })),
    };
  }
}

function legacyKeys(jwt: JwtSettings): RingKey[] {
  return jwt.algorithms.flatMap((alg): RingKey[] => {
    if (ALGORITHMS[alg].family === 'hmac') {
      return jwt.secret === undefined ? [] : [ringKeyOf({ algorithm: alg, secret: jwt.secret }, 'jwt', 'jwt.secret')];
    }
    if (jwt.privateKey === undefined && jwt.publicKey === undefined) return [];
    return [ringKeyOf({ algorithm: alg, privateKey: jwt.privateKey, publicKey: jwt.publicKey }, 'jwt')];
  });
}

function ringKeyOf(input: JwtKeyOptions, where: string, secretOption = `${where}.secret`): RingKey {
  if (typeof input !== 'object' || input === null) throw new AuthConfigError(where, 'must be a key object');
  const alg = input.algorithm;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') throw new AuthConfigError(`${where}.algorithm`, '"none" is refused');
  if (!isAlgorithm(alg)) throw new AuthConfigError(`${where}.algorithm`, `unknown algorithm ${JSON.stringify(alg)}`);
  if (input.kid !== undefined && (typeof input.kid !== 'string' || input.kid.length === 0)) {
    throw new AuthConfigError(`${where}.kid`, 'must be a non-empty string');
  }
  const spec = ALGORITHMS[alg];
  if (spec.family === 'hmac') {
    if (input.privateKey !== undefined || input.publicKey !== undefined) {
      throw new AuthConfigError(where, `${alg} takes a secret, not a private or public key`);
    }
    if (input.secret === undefined) throw new AuthConfigError(secretOption, `no key for the chosen algorithm ${alg}`);
    const key = secretKeyOf(input.secret, secretOption);
    checkKey(alg, key, secretOption);
    return { kid: input.kid, alg, signKey: key, verifyKey: key };
  }
  if (input.secret !== undefined) throw new AuthConfigError(secretOption, `${alg} takes a private or public key, not a secret`);
  const privateKey = input.privateKey === undefined ? undefined : asymmetricKeyOf(input.privateKey, 'private', `${where}.privateKey`);
  const publicKey =
    input.publicKey === undefined ? privateKey && createPublicKey(privateKey) : asymmetricKeyOf(input.publicKey, 'public', `${where}.publicKey`);
  if (!publicKey) throw new AuthConfigError(`${where}.privateKey`, `no key for the chosen algorithm ${alg}`);
  checkKey(alg, publicKey, `${where}.${privateKey ? 'privateKey' : 'publicKey'}`);
  if (privateKey && input.publicKey !== undefined && !samePublicKey(createPublicKey(privateKey), publicKey)) {
    throw new AuthConfigError(`${where}.publicKey`, 'does not match the private key');
  }
  return { kid: input.kid, alg, signKey: privateKey, verifyKey: publicKey };
}

function secretKeyOf(secret: KeyInput, option: string): KeyObject {
  if (secret instanceof KeyObject) {
    if (secret.type !== 'secret') throw new AuthConfigError(option, 'must be a secret key, not a public or private one');
    return secret;
  }
  if (typeof secret !== 'string' && !Buffer.isBuffer(secret)) throw new AuthConfigError(option, 'must be a string, a Buffer or a secret KeyObject');
  if (typeof secret === 'string' && secret.includes('-----BEGIN')) {
    throw new AuthConfigError(option, 'looks like a PEM key: a public key must never be used as an HMAC secret');
  }
  return createSecretKey(Buffer.from(secret));
}

function asymmetricKeyOf(input: KeyInput, type: 'private' | 'public', option: string): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type !== type) throw new AuthConfigError(option, `must be a ${type} key`);
    return input;
  }
  try {
    return type === 'private' ? createPrivateKey(input) : createPublicKey(input);
  } catch {
    // Never fall back to treating the text as an HMAC secret.
    throw new AuthConfigError(option, `does not parse as a ${type} key (PEM, DER or KeyObject)`);
  }
}

/** The checks RFC 7518 and RFC 8725 call for, plus what the attack catalogue found no library doing. */
function checkKey(alg: JwsAlgorithm, key: KeyObject, option: string): void {
  const spec = ALGORITHMS[alg];
  if (spec.family === 'hmac') {
    const size = key.symmetricKeySize ?? 0;
    const min = Math.max(32, spec.size);
    if (size < min) throw new AuthConfigError(option, `${alg} needs a secret of at least ${min} bytes (got ${size})`);
    return;
  }
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (spec.family === 'rsa' || spec.family === 'rsa-pss') {
    if (type !== 'rsa' && type !== 'rsa-pss') throw new AuthConfigError(option, `${alg} needs an RSA key, got ${type}`);
    if ((details.modulusLength ?? 0) < 2048) throw new AuthConfigError(option, `${alg} needs an RSA key of at least 2048 bits`);
    const e = details.publicExponent ?? 0n;
    if (e <= 1n || e % 2n === 0n) throw new AuthConfigError(option, 'RSA public exponent must be odd and greater than 1');
    const n = key.export({ format: 'jwk' }).n;
    if (n && hasRocaFingerprint(BigInt(`0x${Buffer.from(n, 'base64url').toString('hex')}`))) {
      throw new AuthConfigError(option, 'is an RSA key with the ROCA fingerprint (CVE-2017-15361): its private key can be recovered');
    }
    return;
  }
  if (spec.family === 'ec') {
    if (type !== 'ec' || details.namedCurve !== spec.curve) throw new AuthConfigError(option, `${alg} needs an EC key on ${spec.curve}`);
    return;
  }
  if (type !== 'ed25519') throw new AuthConfigError(option, `${alg} needs an Ed25519 key, got ${type}`);
}

function checkKids(keys: RingKey[], option: string): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (key.kid === undefined) continue;
    if (seen.has(key.kid)) throw new AuthConfigError(option, `duplicate kid "${key.kid}"`);
    seen.add(key.kid);
  }
  if (keys.length > 1 && keys.some((k) => k.kid === undefined) && new Set(keys.map((k) => k.alg)).size < keys.length) {
    throw new AuthConfigError(option, 'several keys share an algorithm: give each a kid');
  }
}

function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: 'der', type: 'spki' }).equals(b.export({ format: 'der', type: 'spki' }));
}

/** One JWK, as a verification key bound to its `alg`. */
export function importJwk(jwk: JsonWebKey & { alg?: unknown; kid?: unknown; use?: unknown; key_ops?: unknown }, option: string): RingKey {
  if (typeof jwk !== 'object' || jwk === null) throw new AuthConfigError(option, 'must be a JWK object');
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new AuthConfigError(option, `use "${String(jwk.use)}" is not "sig"`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
    throw new AuthConfigError(option, 'key_ops does not allow "verify"');
  }
  if (!isAlgorithm(jwk.alg)) throw new AuthConfigError(`${option}.alg`, `must name one JWS algorithm, got ${JSON.stringify(jwk.alg)}`);
  const alg = jwk.alg;
  const family = ALGORITHMS[alg].family;
  const kty = family === 'hmac' ? 'oct' : family === 'ec' ? 'EC' : family === 'eddsa' ? 'OKP' : 'RSA';
  if (jwk.kty !== kty) throw new AuthConfigError(`${option}.kty`, `${alg} needs kty ${kty}, got ${String(jwk.kty)}`);
  let key: KeyObject;
  try {
    if (kty === 'oct') {
      if (typeof jwk.k !== 'string') throw new Error('no k');
      key = createSecretKey(Buffer.from(jwk.k, 'base64url'));
    } else {
      const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
      key = createPublicKey({ key: pub as JsonWebKey, format: 'jwk' });
    }
  } catch {
    throw new AuthConfigError(option, 'does not import as a key');
  }
  checkKey(alg, key, option);
  const kid = typeof jwk.kid === 'string' && jwk.kid.length > 0 ? jwk.kid : undefined;
  return { kid, alg, verifyKey: key };
}
