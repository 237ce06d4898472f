import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { AuthContextData } from '../context/auth-context.js';
import { currentContext, requireAuthenticatedContext } from '../context/request-context.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { AUTH_ERROR_STATUS } from '../errors/messages.js';
import { AuthError } from '../errors/auth-error.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { RevocationGate } from '../revocation/revocation-gate.js';
import { AuthStores } from '../store/auth-stores.js';
import { refreshJtiOf, TokenIssuer, type TokenPair } from '../tokens/token-issuer.js';
import type { VerifiedClaims } from '../tokens/token.types.js';
import { AuthUsers } from '../users/auth-users.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { clientOf } from './client-of.js';
import { LoginThrottle } from '../throttle/login-throttle.js';
import type { SessionRecord } from './session-store.js';

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

/**
 * Sessions: start (login), refresh rotation with reuse detection, the
 * caller's own sessions, ending them. Throws `AuthError`.
 */
@Injectable()
export class SessionService {
  constructor(
    private readonly stores: AuthStores,
    private readonly gate: RevocationGate,
    private readonly tokens: TokenIssuer,
    private readonly users: AuthUsers,
    private readonly audit: AuditEmitter,
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    private readonly cookies: CookieJar,
    private readonly throttle: LoginThrottle,
  ) {}

  private now(): Date {
    return new Date(this.options.clock.now());
  }

  async start(user: AuthUserRecord): Promise<TokenPair> {
    const sid = randomBytes(16).toString('base64url');
    const userId = String(user.id);
    const client = clientOf(currentContext()?.carrier);
    const { pair, refresh } = this.tokens.sessionPair(user, sid);
    await this.stores.sessions.create({
      id: sid,
      userId,
      currentJti: refresh.claims.jti,
      createdAt: this.now(),
      expiresAt: new Date(refresh.claims.exp * 1000),
      userAgent: client.userAgent,
      ip: client.ip,
    });
    this.audit.emit({ type: 'login.succeeded', userId, username: user.username.slice(0, 150), sessionId: sid, ip: client.ip });
    // Inside an HTTP request with `cookies.enabled`: the cookies go on its response, and the body may withhold the tokens.
    return this.cookies.setSession(currentContext()?.carrier, pair, sid) as TokenPair;
  }

  /** With no argument and `cookies.enabled`, the refresh token comes from the refresh cookie, after the CSRF check. */
  /** Rotates a refresh token (given, or the refresh cookie). Invalid refresh tokens are bounded per IP (`loginThrottle.refreshPerIp`). */
  async refresh(refreshToken?: string): Promise<TokenPair> {
    const attempt = await this.throttle.checkRefresh(clientOf(currentContext()?.carrier).ip);
    let pair: TokenPair;
    try {
      pair = await this.refreshOnce(refreshToken);
    } catch (err) {
      // A refused token counts against the IP; a store that failed does not.
      if (err instanceof AuthError && AUTH_ERROR_STATUS[err.code] === 401) await attempt.failed();
      else await attempt.abandoned();
      throw err;
    }
    // The rotation is committed: whatever settling the count does, the caller must get the new pair
    // (without it, its next try with the old token would be reuse and end the session).
    await attempt.succeeded().catch(() => undefined);
    return pair;
  }

  private async refreshOnce(refreshToken: string | undefined): Promise<TokenPair> {
    if (refreshToken === undefined || refreshToken === '') {
      const carrier = currentContext()?.carrier;
      const fromCookie = this.cookies.refreshTokenOf(carrier);
      if (fromCookie !== undefined) {
        try {
          return await this.refreshWith(fromCookie);
        } catch (err) {
          // A refresh cookie that can never work again (reused, revoked, expired) is dropped from the browser.
          if (err instanceof AuthError && AUTH_ERROR_STATUS[err.code] === 401) this.cookies.clear(carrier);
          throw err;
        }
      }
      throw new AuthError('token_missing', 'no_refresh_token');
    }
    return this.refreshWith(refreshToken);
  }

  private async refreshWith(refreshToken: string): Promise<TokenPair> {
    const claims = this.tokens.verify(refreshToken, 'refresh');
    const sid = claims.sid;
    if (typeof sid !== 'string') throw new AuthError('token_invalid', 'refresh_token_without_session');
    // Refresh is rare: ask the store itself, whatever the consistency mode.
    const verdict = await this.gate.checkInStore({ jti: claims.jti, sid, sub: claims.sub, iat: claims.iat });
    if (verdict !== null) throw new AuthError(verdict, 'refresh_token_revoked');
    return this.rotate(sid, claims.sub, claims.jti, true);
  }

  /**
   * Reissues the pair of the caller's session. The access token names the
   * refresh token it was issued with, and only that one is rotated: of
   * concurrent calls with one access token, exactly one wins.
   */
  async refreshCurrent(): Promise<TokenPair> {
    const { auth, claims } = this.currentSession('refreshCurrentSessionToken');
    const fromJti = refreshJtiOf(claims.jti);
    if (fromJti === undefined) throw new AuthError('token_invalid', 'access_token_not_from_a_session_pair');
    const pair = await this.rotate(auth.sessionId, auth.userId, fromJti, false);
    // The old access token carries the old claims: retire it.
    await this.gate.revokeJti(claims.jti, new Date(claims.exp * 1000), { userId: auth.userId, reason: 'reissued' });
    return pair;
  }

  async logout(): Promise<void> {
    const { auth } = requireAuthenticatedContext('logout');
    const claims = auth.claims as VerifiedClaims | undefined;
    if (auth.backend !== 'jwt' || claims === undefined) throw new AuthError('token_missing', 'logout_without_access_token');
    if (auth.sessionId) await this.endById(auth.sessionId, auth.userId, 'logout');
    await this.gate.revokeJti(claims.jti, new Date(claims.exp * 1000), { userId: auth.userId, reason: 'logout' });
    this.cookies.clear(currentContext()?.carrier);
  }

  async list(): Promise<SessionInfo[]> {
    const { auth } = requireAuthenticatedContext('listSessions');
    const sessions = await this.stores.sessions.listForUser(auth.userId, this.now());
    return sessions.map((s) => sessionInfo(s, auth.sessionId));
  }

  async endOwn(sessionId: string): Promise<boolean> {
    const { auth } = requireAuthenticatedContext('endSession');
    if (typeof sessionId !== 'string' || sessionId.length === 0) return false;
    const session = await this.stores.sessions.find(sessionId);
    if (!session || session.userId !== auth.userId || session.endedAt !== null) return false;
    return this.endById(sessionId, auth.userId, 'ended_by_user');
  }

  async endAllForUser(userId: string, reason: string): Promise<void> {
    const ended = await this.stores.sessions.endAllForUser(userId, this.now(), reason);
    for (const sid of ended) {
      this.gate.noteSessionEnded(sid);
      this.audit.emit({ type: 'session.ended', userId, sessionId: sid, reason });
    }
  }

  async endById(sid: string, userId: string, reason: string): Promise<boolean> {
    const ended = await this.stores.sessions.end(sid, this.now(), reason);
    this.gate.noteSessionEnded(sid);
    if (ended) this.audit.emit({ type: 'session.ended', userId, sessionId: sid, reason });
    return ended;
  }

  /**
   * Swaps the session's refresh token `fromJti` for a new pair. When a refresh
   * token was presented (`presented`), anything but the current one is reuse
   * and ends the session; for `refreshCurrentSessionToken` a lost race is only
   * refused.
   */
  private async rotate(sid: string, userId: string, fromJti: string, presented: boolean): Promise<TokenPair> {
    const { sessions } = this.stores;
    const { jwt } = this.options;
    const session = await sessions.find(sid);
    const now = this.now();
    if (!session || session.userId !== userId) throw new AuthError('token_invalid', 'unknown_session');
    if (session.endedAt !== null || session.expiresAt <= now) throw new AuthError('token_revoked', 'session_ended');
    if (session.currentJti !== fromJti) return this.notCurrent(session, fromJti, now, presented);

    const user = await this.users.users.findById(userId);
    if (!user || user.isActive === false) {
      await this.endById(sid, userId, user ? 'user_inactive' : 'user_gone');
      throw new AuthError('token_revoked', 'user_gone_or_inactive');
    }
    const expiresAt = jwt.slidingSessions ? new Date(now.getTime() + jwt.refreshTokenTtl * 1000) : session.expiresAt;
    const refreshTtl = Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
    const { pair, refresh } = this.tokens.sessionPair(user, sid, refreshTtl);
    const won = await sessions.rotate(sid, fromJti, refresh.claims.jti, now, jwt.slidingSessions ? expiresAt : undefined);
    if (!won) return this.notCurrent(session, fromJti, now, presented);
    const carrier = currentContext()?.carrier;
    this.audit.emit({ type: 'token.refreshed', userId, sessionId: sid, ip: clientOf(carrier).ip });
    return this.cookies.setSession(carrier, pair, sid) as TokenPair;
  }

  /** A refresh token that is no longer current came back: within the grace period only refuse, else end the session. */
  private async notCurrent(session: SessionRecord, jti: string, now: Date, presented: boolean): Promise<never> {
    if (!presented) throw new AuthError('token_revoked', 'session_pair_already_reissued');
    const rotatedAt = await this.stores.sessions.rotatedOutAt(session.id, jti);
    const graceMs = this.options.jwt.refreshReuseGraceSeconds * 1000;
    if (rotatedAt !== null && now.getTime() - rotatedAt.getTime() < graceMs) {
      throw new AuthError('token_revoked', 'refresh_reuse_within_grace');
    }
    if (await this.stores.sessions.end(session.id, now, 'refresh_reuse')) this.gate.noteSessionEnded(session.id);
    this.audit.emit({
      type: 'refresh.reuse_detected',
      userId: session.userId,
      sessionId: session.id,
      jti,
      ip: clientOf(currentContext()?.carrier).ip,
      reason: rotatedAt === null ? 'unknown_refresh_token' : 'rotated_out_token_presented',
    });
    throw new AuthError('token_revoked', 'refresh_reuse');
  }

  private currentSession(method: string): { auth: AuthContextData & { sessionId: string }; claims: VerifiedClaims } {
    const { auth } = requireAuthenticatedContext(method);
    if (auth.backend !== 'jwt' || !auth.claims || !auth.sessionId) {
      throw new AuthError('token_invalid', `${method}_needs_a_session_access_token`);
    }
    return { auth: auth as AuthContextData & { sessionId: string }, claims: auth.claims as VerifiedClaims };
  }
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
