import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ConcurrencyLimit } from './users/concurrency-limit.js';
import type { AuthContextData } from './context/auth-context.js';
import { currentRequest } from './context/request-context.js';
import type { AuthCarrier } from './context/request-of.js';
import { AuthCore } from './core/auth-core.js';
import { httpCarrierOf } from './cookies/bind-carrier.js';
import { AuthError, type AuthErrorCode } from './errors/auth-error.js';
import { AuthHttpException } from './errors/http-errors.js';
import type { SessionRecord } from './sessions/session-store.js';
import type { IssuedToken, VerifiedClaims } from './tokens/token.types.js';
import type { AuthUserRecord } from './users/user.types.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  refreshExpiresIn: number;
}

export type AccessTokenClaims = VerifiedClaims;

/** A session as its owner may see it: never a token or a token id. */
export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  /** The session of the request that asked. */
  current: boolean;
  userAgent?: string;
  ip?: string;
}

/** Claims the module owns on every token it issues. */
const RESERVED = ['iat', 'exp', 'nbf', 'jti', 'iss', 'aud', 'typ'];
/** Claims `createTokenForUser` derives from the user record. */
const USER_RESERVED = [...RESERVED, 'sub', 'sid', 'is_staff', 'is_superuser', 'permissions'];

/**
 * Login, refresh rotation, the current session, revocation and token issuing.
 * Audit events come from here and from the guard: the application never writes them.
 */
@Injectable()
export class AuthService {
  /** Leaves at least one core to the requests already authenticated. */
  private readonly passwordChecks = new ConcurrencyLimit(Math.max(1, availableParallelism() - 1));

  constructor(private readonly core: AuthCore) {}

  async login(username: string, password: string): Promise<TokenPair> {
    const request = currentRequest.getStore();
    // Login CSRF: refused before any password work when a foreign page posts the form.
    asHttp(() => this.core.cookies.checkLoginOrigin(httpCarrierOf(request)));
    const ip = ipOf(request);
    const fail = (reason: string, userId?: string): never => {
      this.core.audit.emit({ type: 'login.failed', username: safeUsername(username), userId, ip, reason });
      throw new AuthHttpException('invalid_credentials', 'Invalid username or password');
    };
    if (typeof username !== 'string' || typeof password !== 'string' || username.length === 0 || password.length === 0) {
      return fail('malformed');
    }
    const user = await this.core.users.findByUsername(username);
    // The same argon2 work whether or not the user exists: timing must not tell which usernames are real.
    const hash = user ? user.passwordHash : await this.core.dummyPasswordHash();
    const passwordOk = await this.passwordChecks.run(() => this.core.hasher.verify(hash, password));
    if (!user) return fail('unknown_user');
    if (!passwordOk) return fail('bad_password', String(user.id));
    if (user.isActive === false) return fail('inactive', String(user.id));

    const pair = await this.startSession(user, request);
    return pair;
  }

  /** With no argument, and `cookies.enabled`, the refresh token comes from the refresh cookie (after the CSRF check). */
  async refresh(refreshToken?: string): Promise<TokenPair> {
    if (refreshToken === undefined || refreshToken === '') {
      const carrier = httpCarrierOf(currentRequest.getStore());
      const fromCookie = asHttp(() => this.core.cookies.refreshTokenOf(carrier));
      if (fromCookie !== undefined) {
        try {
          return await this.refreshWith(fromCookie);
        } catch (err) {
          // A refresh cookie that can never work again (reused, revoked, expired) is dropped from the browser.
          if (err instanceof AuthHttpException && err.getStatus() === 401) this.core.cookies.clear(carrier);
          throw err;
        }
      }
    }
    return this.refreshWith(refreshToken as string);
  }

  private async refreshWith(refreshToken: string): Promise<TokenPair> {
    const claims = this.verifyOrThrow(refreshToken, 'refresh');
    const sid = claims.sid;
    if (typeof sid !== 'string') throw new AuthHttpException('token_invalid', 'Not a session refresh token');
    // Refresh is rare: ask the store itself, whatever the consistency mode.
    const verdict = await this.core.gate.checkStrict(claims.jti, sid, claims.sub, claims.iat);
    if (verdict !== null) throw new AuthHttpException(verdict, 'The refresh token has been revoked');
    return this.rotate(sid, claims.sub, claims.jti);
  }

  async refreshCurrentSessionToken(): Promise<TokenPair> {
    const { auth, claims } = this.currentSession();
    const session = await this.core.stores.sessions.find(auth.sessionId);
    if (!session || session.endedAt !== null) throw new AuthHttpException('token_revoked', 'The session has ended');
    const pair = await this.rotate(session.id, auth.userId, session.currentJti);
    // The old access token carries the old claims: retire it.
    await this.core.gate.revokeJti(claims.jti, new Date(claims.exp * 1000), { userId: auth.userId, reason: 'reissued' });
    return pair;
  }

  async createToken(payload: Record<string, unknown>, opts: { expiresIn?: number; audience?: string | string[] } = {}): Promise<string> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new TypeError('createToken(payload): payload must be an object');
    }
    refuseReserved(payload, RESERVED, 'createToken(payload)');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new TypeError('createToken(payload): payload.sub must be a non-empty string');
    }
    this.checkExpiresIn(opts.expiresIn, 'createToken');
    return this.core.codec.issue(payload, 'access', opts).token;
  }

  async createTokenForUser(
    user: AuthUserRecord,
    opts: { expiresIn?: number; extraClaims?: Record<string, unknown> } = {},
  ): Promise<string> {
    if (opts.extraClaims) refuseReserved(opts.extraClaims, USER_RESERVED, 'createTokenForUser(extraClaims)');
    this.checkExpiresIn(opts.expiresIn, 'createTokenForUser');
    return this.core.codec.issue({ ...opts.extraClaims, ...userClaims(user) }, 'access', { expiresIn: opts.expiresIn }).token;
  }

  /** Verifies an access token as the guard does, revocation included. Throws a 401 `AuthHttpException` with the `code`. */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    const claims = this.verifyOrThrow(token, 'access');
    const verdict = await this.core.gate.check(claims.jti, claims.sid, claims.sub, claims.iat);
    if (verdict !== null) throw new AuthHttpException(verdict, verdict === 'token_revoked' ? 'The token has been revoked' : 'Authentication is temporarily unavailable');
    return claims;
  }

  /** Revokes one token, given as the token itself (access or refresh) or as its `jti`. */
  async revokeToken(tokenOrJti: string): Promise<void> {
    if (typeof tokenOrJti !== 'string' || tokenOrJti.length === 0) throw new TypeError('revokeToken: a token or a jti is required');
    let jti = tokenOrJti;
    let expiresAt = new Date(Date.now() + this.core.options.jwt.maxTokenLifetime * 1000);
    let userId: string | undefined;
    if (tokenOrJti.split('.').length === 3) {
      const claims = this.verifyAnyKind(tokenOrJti);
      if (claims === null) return; // expired: nothing left to refuse
      jti = claims.jti;
      expiresAt = new Date(claims.exp * 1000);
      userId = claims.sub;
    }
    await this.core.gate.revokeJti(jti, expiresAt, { userId, reason: 'revoked' });
    this.core.audit.emit({ type: 'token.revoked', jti, userId, reason: 'revoked' });
  }

  /** Refuses every token of the user issued before now and ends all their sessions. New logins work. */
  async revokeAllForUser(userId: string): Promise<void> {
    if (typeof userId !== 'string' || userId.length === 0) throw new TypeError('revokeAllForUser: userId must be a non-empty string');
    const now = new Date();
    await this.core.gate.cutOffUser(userId, now);
    const ended = await this.core.stores.sessions.endAllForUser(userId, now, 'revoke_all');
    for (const sid of ended) {
      this.core.gate.noteSessionEnded(sid);
      this.core.audit.emit({ type: 'session.ended', userId, sessionId: sid, reason: 'revoke_all' });
    }
    this.core.audit.emit({ type: 'token.revoked', userId, reason: 'revoke_all' });
    const request = currentRequest.getStore();
    if (request?.auth?.userId === userId) this.core.cookies.clear(httpCarrierOf(request));
  }

  /** Ends the session of the current request: its refresh token and its access tokens stop working. */
  async logout(): Promise<void> {
    const auth = currentRequest.getStore()?.auth;
    const claims = auth?.claims as VerifiedClaims | undefined;
    if (!auth || auth.backend !== 'jwt' || !claims) {
      throw new AuthHttpException('token_missing', 'logout() needs a request authenticated by an access token');
    }
    if (auth.sessionId) {
      await this.endSessionById(auth.sessionId, auth.userId, 'logout');
    }
    await this.core.gate.revokeJti(claims.jti, new Date(claims.exp * 1000), { userId: auth.userId, reason: 'logout' });
    this.core.cookies.clear(httpCarrierOf(currentRequest.getStore()));
  }

  /** The live sessions of the current caller. */
  async listSessions(): Promise<SessionInfo[]> {
    const auth = this.currentUser();
    const sessions = await this.core.stores.sessions.listForUser(auth.userId, new Date());
    return sessions.map((s) => sessionInfo(s, auth.sessionId));
  }

  /** Ends one of the current caller's own sessions. False when it is not theirs, or not live. */
  async endSession(sessionId: string): Promise<boolean> {
    const auth = this.currentUser();
    if (typeof sessionId !== 'string' || sessionId.length === 0) return false;
    const session = await this.core.stores.sessions.find(sessionId);
    if (!session || session.userId !== auth.userId || session.endedAt !== null) return false;
    return this.endSessionById(sessionId, auth.userId, 'ended_by_user');
  }

  /** Deletes revocations, sessions and cut-offs whose tokens have all expired. Also runs periodically. */
  purgeExpired(): Promise<number> {
    return this.core.gate.purgeExpired();
  }

  /** The public keys of the key ring as a JWK Set (RFC 7517), for verifiers elsewhere. */
  getJwks(): { keys: Record<string, unknown>[] } {
    return this.core.codec.jwks();
  }

  // --- sessions ---------------------------------------------------------------

  private async startSession(user: AuthUserRecord, request: AuthCarrier | undefined): Promise<TokenPair> {
    const { jwt } = this.core.options;
    const now = Date.now();
    const sid = randomBytes(16).toString('base64url');
    const userId = String(user.id);
    const refresh = this.core.codec.issue({ sub: userId, sid }, 'refresh', { expiresIn: jwt.refreshTokenTtl });
    await this.core.stores.sessions.create({
      id: sid,
      userId,
      currentJti: refresh.claims.jti,
      createdAt: new Date(now),
      expiresAt: new Date(refresh.claims.exp * 1000),
      userAgent: headerOf(request, 'user-agent')?.slice(0, 512),
      ip: ipOf(request),
    });
    const access = this.core.codec.issue({ ...userClaims(user), sid }, 'access');
    this.core.audit.emit({ type: 'login.succeeded', userId, username: safeUsername(user.username), sessionId: sid, ip: ipOf(request) });
    return this.core.cookies.setSession(httpCarrierOf(request), pairOf(access, refresh), sid) as TokenPair;
  }

  /** Swaps the session's refresh token `fromJti` for a new pair; anything but the current token is reuse. */
  private async rotate(sid: string, userId: string, fromJti: string): Promise<TokenPair> {
    const { sessions } = this.core.stores;
    const { jwt } = this.core.options;
    const session = await sessions.find(sid);
    const now = new Date();
    if (!session || session.userId !== userId) throw new AuthHttpException('token_invalid', 'Unknown session');
    if (session.endedAt !== null || session.expiresAt <= now) throw new AuthHttpException('token_revoked', 'The session has ended');
    if (session.currentJti !== fromJti) return this.reuse(session, fromJti, now);

    const user = await this.core.users.findById(userId);
    if (!user || user.isActive === false) {
      await this.endSessionById(sid, userId, user ? 'user_inactive' : 'user_gone');
      throw new AuthHttpException('token_revoked', 'The session has ended');
    }
    const expiresAt = jwt.slidingSessions ? new Date(now.getTime() + jwt.refreshTokenTtl * 1000) : session.expiresAt;
    const refreshTtl = Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
    const refresh = this.core.codec.issue({ sub: userId, sid }, 'refresh', { expiresIn: refreshTtl });
    const won = await sessions.rotate(sid, fromJti, refresh.claims.jti, now, jwt.slidingSessions ? expiresAt : undefined);
    if (!won) return this.reuse(session, fromJti, now);
    const access = this.core.codec.issue({ ...userClaims(user), sid }, 'access');
    const request = currentRequest.getStore();
    this.core.audit.emit({ type: 'token.refreshed', userId, sessionId: sid, ip: ipOf(request) });
    return this.core.cookies.setSession(httpCarrierOf(request), pairOf(access, refresh), sid) as TokenPair;
  }

  /** A refresh token that is no longer current came back: within the grace period only refuse, else end the session. */
  private async reuse(session: SessionRecord, jti: string, now: Date): Promise<never> {
    const rotatedAt = await this.core.stores.sessions.rotatedOutAt(session.id, jti);
    const graceMs = this.core.options.jwt.refreshReuseGraceSeconds * 1000;
    if (rotatedAt !== null && now.getTime() - rotatedAt.getTime() < graceMs) {
      throw new AuthHttpException('token_revoked', 'The refresh token was already used');
    }
    if (await this.core.stores.sessions.end(session.id, now, 'refresh_reuse')) {
      this.core.gate.noteSessionEnded(session.id);
    }
    this.core.audit.emit({
      type: 'refresh.reuse_detected',
      userId: session.userId,
      sessionId: session.id,
      jti,
      ip: ipOf(currentRequest.getStore()),
      reason: rotatedAt === null ? 'unknown_refresh_token' : 'rotated_out_token_presented',
    });
    throw new AuthHttpException('token_revoked', 'The refresh token was already used: the session has been ended');
  }

  private async endSessionById(sid: string, userId: string, reason: string): Promise<boolean> {
    const ended = await this.core.stores.sessions.end(sid, new Date(), reason);
    this.core.gate.noteSessionEnded(sid);
    if (ended) this.core.audit.emit({ type: 'session.ended', userId, sessionId: sid, reason });
    return ended;
  }

  // --- helpers ----------------------------------------------------------------

  private verifyOrThrow(token: string, kind: 'access' | 'refresh'): VerifiedClaims {
    if (typeof token !== 'string' || token.length === 0) throw new AuthHttpException('token_missing', 'A token is required');
    try {
      return this.core.codec.verify(token, kind);
    } catch (err) {
      if (err instanceof AuthError) throw new AuthHttpException(err.code, err.message);
      throw new AuthHttpException('token_invalid', 'Invalid token');
    }
  }

  /** For revokeToken: the claims of a valid access or refresh token, null if it has expired. */
  private verifyAnyKind(token: string): VerifiedClaims | null {
    let lastCode: AuthErrorCode = 'token_invalid';
    for (const kind of ['access', 'refresh'] as const) {
      try {
        return this.core.codec.verify(token, kind);
      } catch (err) {
        if (err instanceof AuthError && err.code === 'token_expired') return null;
        if (err instanceof AuthError) lastCode = err.code;
      }
    }
    throw new AuthHttpException(lastCode, 'Invalid token');
  }

  private checkExpiresIn(expiresIn: number | undefined, method: string): void {
    if (expiresIn === undefined) return;
    const max = this.core.options.jwt.maxTokenLifetime;
    if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0 || expiresIn > max) {
      throw new TypeError(`${method}: expiresIn must be a positive integer of at most ${max} seconds (jwt.maxTokenLifetime)`);
    }
  }

  private currentUser(): AuthContextData {
    const auth = currentRequest.getStore()?.auth;
    if (!auth) throw new AuthHttpException('token_missing', 'This needs an authenticated request');
    return auth;
  }

  private currentSession(): { auth: AuthContextData & { sessionId: string }; claims: VerifiedClaims } {
    const auth = currentRequest.getStore()?.auth;
    if (!auth || !auth.claims || auth.backend !== 'jwt' || !auth.sessionId) {
      throw new AuthHttpException('token_invalid', 'This needs a request authenticated by a session access token');
    }
    return { auth: auth as AuthContextData & { sessionId: string }, claims: auth.claims as VerifiedClaims };
  }
}

/** The cookie transport throws the core's AuthError; this service answers with the HTTP exception. */
function asHttp<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AuthError) throw new AuthHttpException(err.code, err.message);
    throw err;
  }
}

function userClaims(user: AuthUserRecord): Record<string, unknown> {
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

function pairOf(access: IssuedToken, refresh: IssuedToken): TokenPair {
  return {
    accessToken: access.token,
    refreshToken: refresh.token,
    tokenType: 'Bearer',
    expiresIn: access.claims.exp - access.claims.iat,
    refreshExpiresIn: refresh.claims.exp - refresh.claims.iat,
  };
}

function sessionInfo(s: SessionRecord, currentSid: string | undefined): SessionInfo {
  return {
    id: s.id,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    expiresAt: s.expiresAt,
    current: s.id === currentSid,
    ...(s.userAgent ? { userAgent: s.userAgent } : {}),
    ...(s.ip ? { ip: s.ip } : {}),
  };
}

function headerOf(request: AuthCarrier | undefined, name: string): string | undefined {
  const value = request?.headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

function ipOf(request: AuthCarrier | undefined): string | undefined {
  const carrier = request as { ip?: unknown; socket?: { remoteAddress?: string } } | undefined;
  if (typeof carrier?.ip === 'string') return carrier.ip;
  return carrier?.socket?.remoteAddress;
}

/** Usernames go into audit lines; bound them so a 1 MB "username" cannot flood the log. */
function safeUsername(username: unknown): string | undefined {
  return typeof username === 'string' ? username.slice(0, 150) : undefined;
}
