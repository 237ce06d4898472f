import { createHmac, createPrivateKey, createPublicKey, createSecretKey, randomBytes, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { ResolvedJwtOptions } from '../auth.options.js';
import { AuthConfigError, AuthError } from '../errors/auth-error.js';
import { TOKEN_TYP, type IssuedToken, type JwsAlgorithm, type TokenKind, type VerifiedClaims } from './token.types.js';

export interface RingKey { kid?: string; alg: JwsAlgorithm; signKey?: KeyObject; verifyKey: KeyObject }

const HASH: Record<JwsAlgorithm, string | null> = {
  HS256: 'sha256', HS384: 'sha384', HS512: 'sha512', RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  PS256: 'sha256', PS384: 'sha384', PS512: 'sha512', ES256: 'sha256', ES384: 'sha384', ES512: 'sha512', EdDSA: null,
};

function invalid(message: string): never { throw new AuthError('token_invalid', message); }

export class KeyRing {
  private readonly byKid = new Map<string, RingKey>();
  private readonly byAlg = new Map<string, RingKey>();
  constructor(readonly keys: RingKey[], readonly signingKey: RingKey | undefined) {
    for (const k of keys) if (k.kid !== undefined) this.byKid.set(k.kid, k); else this.byAlg.set(k.alg, k);
  }
  static fromOptions(jwt: ResolvedJwtOptions): KeyRing {
    const keys: RingKey[] = [];
    for (const alg of jwt.algorithms) {
      if (alg.startsWith('HS')) {
        if (jwt.secret === undefined) throw new AuthConfigError('jwt.secret', `no key for the chosen algorithm ${alg}`);
        const key = typeof jwt.secret === 'object' && 'type' in jwt.secret && !Buffer.isBuffer(jwt.secret) ? (jwt.secret as KeyObject) : createSecretKey(Buffer.from(jwt.secret as string | Buffer));
        if ((key.symmetricKeySize ?? 0) < Math.max(32, Number(alg.slice(2)) / 8)) throw new AuthConfigError('jwt.secret', `${alg} needs a secret of at least ${Math.max(32, Number(alg.slice(2)) / 8)} bytes`);
        keys.push({ alg, signKey: key, verifyKey: key });
      } else {
        let priv: KeyObject | undefined; let pub: KeyObject | undefined;
        try { if (jwt.privateKey !== undefined) priv = isKeyObject(jwt.privateKey) ? jwt.privateKey : createPrivateKey(jwt.privateKey as string); }
        catch { throw new AuthConfigError('jwt.privateKey', 'does not parse as a private key'); }
        try { pub = jwt.publicKey !== undefined ? (isKeyObject(jwt.publicKey) ? jwt.publicKey : createPublicKey(jwt.publicKey as string)) : priv && createPublicKey(priv); }
        catch { throw new AuthConfigError('jwt.publicKey', 'does not parse as a public key'); }
        if (!pub) throw new AuthConfigError('jwt.privateKey', `no key for the chosen algorithm ${alg}`);
        keys.push({ alg, signKey: priv, verifyKey: pub });
      }
    }
    return new KeyRing(keys, keys[0]?.signKey ? keys[0] : undefined);
  }
  select(header: Record<string, unknown>): RingKey {
    const key = typeof header.kid === 'string' ? this.byKid.get(header.kid) : this.byAlg.get(header.alg as string);
    if (!key || key.alg !== header.alg) invalid('Unknown key or algorithm');
    return key;
  }
  toJwks(): { keys: Record<string, unknown>[] } {
    return { keys: this.keys.filter((k) => k.verifyKey.type === 'public').map((k) => ({ ...k.verifyKey.export({ format: 'jwk' }), alg: k.alg, use: 'sig', ...(k.kid ? { kid: k.kid } : {}) })) };
  }
}

function isKeyObject(v: unknown): v is KeyObject { return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && 'asymmetricKeyType' in (v as object) || (typeof v === 'object' && v !== null && (v as KeyObject).type !== undefined && !Buffer.isBuffer(v)); }

function b64(s: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) invalid('Malformed token');
  const buf = Buffer.from(s, 'base64url');
  if (buf.toString('base64url') !== s) invalid('Malformed token');
  return buf;
}
const decoder = new TextDecoder('utf-8', { fatal: true });
function json(buf: Buffer): Record<string, unknown> {
  let v: unknown;
  try { v = JSON.parse(decoder.decode(buf)); } catch { invalid('Malformed token'); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid('Token parts must be JSON objects');
  return v as Record<string, unknown>;
}

export class TokenCodec {
  readonly ring: KeyRing;
  constructor(private readonly jwt: ResolvedJwtOptions) { this.ring = KeyRing.fromOptions(jwt); }

  issue(claims: Record<string, unknown>, kind: TokenKind, opts: { expiresIn?: number; audience?: string | string[] } = {}, nowSeconds = Math.floor(Date.now() / 1000)): IssuedToken {
    const key = this.ring.signingKey;
    if (!key?.signKey) throw new Error('No signing key configured');
    const { iat: _i, exp: _e, nbf: _n, jti: _j, iss: _s, aud: _a, ...rest } = claims;
    const out: VerifiedClaims = { ...rest, sub: claims.sub as string, jti: randomBytes(16).toString('base64url'), iat: nowSeconds, exp: nowSeconds + (opts.expiresIn ?? (kind === 'access' ? this.jwt.accessTokenTtl : this.jwt.refreshTokenTtl)) };
    if (this.jwt.issuer) out.iss = this.jwt.issuer;
    const aud = opts.audience ?? this.jwt.audience; if (aud !== undefined) out.aud = aud;
    const header = { alg: key.alg, typ: TOKEN_TYP[kind], ...(key.kid ? { kid: key.kid } : {}) };
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(out)).toString('base64url')}`;
    return { token: `${input}.${signBytes(key, input).toString('base64url')}`, claims: out };
  }

  verify(token: string, kind: TokenKind, nowSeconds = Date.now() / 1000): VerifiedClaims {
    if (typeof token !== 'string' || token.length > this.jwt.maxTokenLength) invalid('Malformed token');
    const d1 = token.indexOf('.'); const d2 = token.indexOf('.', d1 + 1);
    if (d1 < 0 || d2 < 0 || token.indexOf('.', d2 + 1) >= 0) invalid('Malformed token');
    const header = json(b64(token.slice(0, d1)));
    if (header.crit !== undefined) invalid('Unsupported critical header');
    if (header.typ !== TOKEN_TYP[kind]) invalid('Wrong token type');
    const key = this.ring.select(header);
    const sig = b64(token.slice(d2 + 1));
    const payloadBytes = b64(token.slice(d1 + 1, d2));
    if (!verifyBytes(key, token.slice(0, d2), sig)) invalid('Bad signature');
    const c = json(payloadBytes);
    const tol = this.jwt.clockTolerance;
    for (const n of ['exp', 'iat'] as const) if (typeof c[n] !== 'number' || !Number.isFinite(c[n])) invalid(`Claim ${n} is missing or not a NumericDate`);
    if (typeof c.jti !== 'string' || c.jti === '' || typeof c.sub !== 'string' || c.sub === '') invalid('Claims jti and sub are required');
    if (c.nbf !== undefined && (typeof c.nbf !== 'number' || !Number.isFinite(c.nbf) || c.nbf > nowSeconds + tol)) invalid('Token not valid yet');
    if ((c.iat as number) > nowSeconds + tol) invalid('Token issued in the future');
    if ((c.exp as number) - (c.iat as number) > this.jwt.maxTokenLifetime) invalid('Token lifetime too long');
    if ((c.exp as number) <= nowSeconds - tol) throw new AuthError('token_expired', 'The token has expired');
    if (this.jwt.issuer !== undefined && c.iss !== this.jwt.issuer) invalid('Wrong issuer');
    if (this.jwt.audience !== undefined) {
      const want = Array.isArray(this.jwt.audience) ? this.jwt.audience : [this.jwt.audience];
      const have = Array.isArray(c.aud) ? c.aud : [c.aud];
      if (!have.some((a) => typeof a === 'string' && want.includes(a))) invalid('Wrong audience');
    }
    return c as VerifiedClaims;
  }

  jwks() { return this.ring.toJwks(); }
}

function signBytes(key: RingKey, input: string): Buffer {
  const h = HASH[key.alg];
  if (key.alg.startsWith('HS')) return createHmac(h!, key.signKey!).update(input).digest();
  if (key.alg.startsWith('PS')) return cryptoSign(h, Buffer.from(input), { key: key.signKey!, padding: 6, saltLength: 32 });
  if (key.alg.startsWith('ES')) return cryptoSign(h, Buffer.from(input), { key: key.signKey!, dsaEncoding: 'ieee-p1363' });
  return cryptoSign(h, Buffer.from(input), key.signKey!);
}
function verifyBytes(key: RingKey, input: string, sig: Buffer): boolean {
  const h = HASH[key.alg];
  if (key.alg.startsWith('HS')) { const mac = createHmac(h!, key.verifyKey).update(input).digest(); return mac.length === sig.length && timingSafeEqual(mac, sig); }
  if (key.alg.startsWith('ES')) return cryptoVerify(h, Buffer.from(input), { key: key.verifyKey, dsaEncoding: 'ieee-p1363' }, sig);
  return cryptoVerify(h, Buffer.from(input), key.verifyKey, sig);
}
