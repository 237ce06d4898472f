import { randomBytes } from 'node:crypto';
import type { JwtSettings } from './token-settings.js';
import { AuthError } from '../errors/auth-error.js';
import { signCompactJws, verifyCompactJws } from './jws.js';
import { KeyRing } from './key-ring.js';
import { parseJsonObjectLatin1 } from './strict-json.js';
import { TOKEN_TYP, type IssuedToken, type TokenKind, type VerifiedClaims } from './token.types.js';

function invalid(message: string): never {
  throw new AuthError('token_invalid', message);
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * The one strict token verifier (and issuer) of the module: every path
 * (the guard, verifyAccessToken, refresh, the passport strategy) goes
 * through `verify`. Synchronous, on node:crypto key objects imported at boot.
 */
export class TokenCodec {
  readonly ring: KeyRing;
  private readonly audiences: readonly string[] | undefined;

  constructor(private readonly jwt: JwtSettings) {
    this.ring = KeyRing.fromOptions(jwt);
    this.audiences = jwt.audience === undefined ? undefined : Array.isArray(jwt.audience) ? jwt.audience : [jwt.audience];
  }

  /** Signs `claims` as a token of `kind`. `iat`, `exp`, `jti`, `iss`, `aud` are always the codec's. */
  issue(
    claims: Record<string, unknown>,
    kind: TokenKind,
    opts: { expiresIn?: number; audience?: string | string[]; jti?: string } = {},
    nowSeconds = Math.floor(Date.now() / 1000),
  ): IssuedToken {
    const key = this.ring.signingKey;
    if (!key) throw new Error('No signing key: jwt.privateKey (or a secret) is needed to issue tokens');
    const { iat: _iat, exp: _exp, nbf: _nbf, jti: _jti, iss: _iss, aud: _aud, ...rest } = claims;
    const ttl = opts.expiresIn ?? (kind === 'access' ? this.jwt.accessTokenTtl : this.jwt.refreshTokenTtl);
    const out: VerifiedClaims = {
      ...rest,
      sub: String(claims.sub),
      jti: opts.jti ?? randomBytes(16).toString('base64url'),
      iat: nowSeconds,
      exp: nowSeconds + ttl,
    };
    if (this.jwt.issuer !== undefined) out.iss = this.jwt.issuer;
    const audience = opts.audience ?? this.jwt.audience;
    if (audience !== undefined) out.aud = audience;
    const header = { alg: key.alg, typ: TOKEN_TYP[kind], ...(key.kid !== undefined ? { kid: key.kid } : {}) };
    return { token: signCompactJws(header, Buffer.from(JSON.stringify(out)), key), claims: out };
  }

  /**
   * Checks, in order: the JWS (length, shape, canonical base64url, header,
   * key and algorithm, signature), the type, then the claims. Throws
   * `AuthError` with `token_expired` for an expired token, `token_invalid`
   * for everything else.
   */
  verify(token: string, kind: TokenKind, nowSeconds = Date.now() / 1000): VerifiedClaims {
    const { header, payload } = verifyCompactJws(token, this.ring, this.jwt.maxTokenLength);
    if (header.typ !== TOKEN_TYP[kind]) invalid('Wrong token type');
    const claims = parseJsonObjectLatin1(payload);
    const { exp, iat, nbf, jti, sub } = claims;
    if (!isNumericDate(exp) || !isNumericDate(iat)) invalid('exp and iat must be NumericDates');
    if (nbf !== undefined && !isNumericDate(nbf)) invalid('nbf must be a NumericDate');
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 255) invalid('jti must be a non-empty string');
    if (typeof sub !== 'string' || sub.length === 0) invalid('sub must be a non-empty string');
    if (claims.sid !== undefined && (typeof claims.sid !== 'string' || claims.sid.length === 0)) invalid('sid must be a non-empty string');
    const tolerance = this.jwt.clockTolerance;
    if (exp - iat > this.jwt.maxTokenLifetime || exp < iat) invalid('Token lifetime out of bounds');
    if (iat > nowSeconds + tolerance) invalid('Token issued in the future');
    if (nbf !== undefined && nbf > nowSeconds + tolerance) invalid('Token not valid yet');
    // RFC 7519 §4.1.4: the token must not be accepted on or after exp.
    if (nowSeconds - tolerance >= exp) throw new AuthError('token_expired', 'The token has expired');
    if (this.jwt.issuer !== undefined && claims.iss !== this.jwt.issuer) invalid('Wrong issuer');
    if (this.audiences !== undefined && !this.audienceMatches(claims.aud)) invalid('Wrong audience');
    return claims as VerifiedClaims;
  }

  jwks(): { keys: Record<string, unknown>[] } {
    return this.ring.toJwks();
  }

  private audienceMatches(aud: unknown): boolean {
    const wanted = this.audiences!;
    if (typeof aud === 'string') return wanted.includes(aud);
    return Array.isArray(aud) && aud.some((a) => typeof a === 'string' && wanted.includes(a));
  }
}
