import { Inject, Injectable } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { TokenIssuerSettings } from './token-settings.js';
import { AuthError } from '../errors/auth-error.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { TokenCodec } from './token-codec.js';
import type { IssuedToken, TokenKind, VerifiedClaims } from './token.types.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshExpiresIn: number;
}

/** Claims the module owns on every token it issues. */
const RESERVED = ['iat', 'exp', 'nbf', 'jti', 'iss', 'aud', 'typ'];
/** Claims `createTokenForUser` derives from the user record. */
const USER_RESERVED = [...RESERVED, 'sub', 'sid', 'is_staff', 'is_superuser', 'permissions'];

/**
 * The access token of a session pair is named after its refresh token, so
 * `refreshCurrentSessionToken()` knows which refresh token its access token
 * came with and can rotate exactly that one: of concurrent calls with one
 * access token, one wins the store's conditional update.
 */
export function accessJtiOf(refreshJti: string): string {
  return `${refreshJti}.at`;
}

export function refreshJtiOf(accessJti: string): string | undefined {
  return accessJti.endsWith('.at') ? accessJti.slice(0, -3) : undefined;
}

/** Issues and verifies tokens for the services: the claims of a user, session pairs, app-made tokens. */
@Injectable()
export class TokenIssuer {
  constructor(
    readonly codec: TokenCodec,
    @Inject(AUTH_OPTIONS) private readonly options: TokenIssuerSettings,
  ) {}

  /** With `trustedIssuers` and no `jwt` the app issues no tokens: the methods that would, say so. */
  assertIssuing(method: string): void {
    if (this.options.issuesTokens === false) {
      throw new Error(
        `AuthService.${method}(): this app issues no tokens (trustedIssuers without jwt): its callers sign in at their identity provider`,
      );
    }
  }

  nowSeconds(): number {
    return Math.floor(this.options.clock.now() / 1000);
  }

  /** A new access + refresh pair for session `sid`; the refresh token lives until `refreshExpiresAt`. */
  sessionPair(user: AuthUserRecord, sid: string, refreshTtlSeconds = this.options.jwt.refreshTokenTtl): { pair: TokenPair; refresh: IssuedToken } {
    const now = this.nowSeconds();
    const refresh = this.codec.issue({ sub: String(user.id), sid }, 'refresh', { expiresIn: refreshTtlSeconds }, now);
    const access = this.codec.issue({ ...userClaims(user), sid }, 'access', { jti: accessJtiOf(refresh.claims.jti) }, now);
    return {
      refresh,
      pair: {
        accessToken: access.token,
        refreshToken: refresh.token,
        tokenType: 'Bearer',
        expiresIn: access.claims.exp - access.claims.iat,
        refreshExpiresIn: refresh.claims.exp - refresh.claims.iat,
      },
    };
  }

  createToken(payload: Record<string, unknown>, opts: { expiresIn?: number; audience?: string | string[] } = {}): string {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new TypeError('createToken(payload): payload must be an object');
    }
    refuseReserved(payload, RESERVED, 'createToken(payload)');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new TypeError('createToken(payload): payload.sub must be a non-empty string');
    }
    this.checkExpiresIn(opts.expiresIn, 'createToken');
    return this.codec.issue(payload, 'access', opts, this.nowSeconds()).token;
  }

  createTokenForUser(user: AuthUserRecord, opts: { expiresIn?: number; extraClaims?: Record<string, unknown> } = {}): string {
    if (opts.extraClaims) refuseReserved(opts.extraClaims, USER_RESERVED, 'createTokenForUser(extraClaims)');
    this.checkExpiresIn(opts.expiresIn, 'createTokenForUser');
    return this.codec.issue({ ...opts.extraClaims, ...userClaims(user) }, 'access', { expiresIn: opts.expiresIn }, this.nowSeconds()).token;
  }

  /** The strict verifier; a missing or non-string token is `token_missing`. */
  verify(token: unknown, kind: TokenKind): VerifiedClaims {
    if (typeof token !== 'string' || token.length === 0) throw new AuthError('token_missing', 'no_token_given');
    return this.codec.verify(token, kind, this.options.clock.now() / 1000);
  }

  /** The claims of a valid access or refresh token; null when it has expired. */
  verifyAnyKind(token: string): VerifiedClaims | null {
    let last: AuthError = new AuthError('token_invalid');
    for (const kind of ['access', 'refresh'] as const) {
      try {
        return this.verify(token, kind);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        if (err.code === 'token_expired') return null;
        last = err;
      }
    }
    throw last;
  }

  private checkExpiresIn(expiresIn: number | undefined, method: string): void {
    if (expiresIn === undefined) return;
    const max = this.options.jwt.maxTokenLifetime;
    if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0 || expiresIn > max) {
      throw new TypeError(`${method}: expiresIn must be a positive integer of at most ${max} seconds (jwt.maxTokenLifetime)`);
    }
  }
}

/** The claims of a user's access token. */
export function userClaims(user: AuthUserRecord): Record<string, unknown> {
  return {
    sub: String(user.id),
    username: user.username,
    ...(user.email ? { email: user.email } : {}),
    is_staff: user.isStaff === true,
    is_superuser: user.isSuperuser === true,
    permissions: Array.isArray(user.permissions) ? [...user.permissions] : [],
  };
}

function refuseReserved(claims: Record<string, unknown>, reserved: readonly string[], where: string): void {
  for (const name of reserved) {
    if (Object.prototype.hasOwnProperty.call(claims, name)) {
      throw new TypeError(`${where}: the claim "${name}" is set by the module and cannot be overridden`);
    }
  }
}
