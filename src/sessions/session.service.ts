import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { requireGrant, type CallGrant } from '../context/call-grant.js';
import { currentContext, requireAuthenticatedContext } from '../context/request-context.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { AUTH_ERROR_STATUS } from '../errors/messages.js';
import { AuthError } from '../errors/auth-error.js';
import type { SessionSettings } from './session-settings.js';
import { RevocationGate } from '../revocation/revocation-gate.js';
import type { TokenRevocation } from '../revocation/revocation-ledger.js';
import { RevocationWriter } from '../revocation/revocation-writer.js';
import { refreshJtiOf, TokenIssuer, type TokenPair } from '../tokens/token-issuer.js';
import type { VerifiedClaims } from '../tokens/token.types.js';
import { AuthUsers } from '../users/auth-users.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { clientOf } from '../call/client.js';
import { LoginThrottle } from '../throttle/login-throttle.js';
import { SESSION_STORE, type SessionRecord, type SessionStore } from './session-store.js';
import type { Carrier } from '../call/carrier.js';

/**
 * How AuthService names the caller of a context-bound method: undefined for
 * the ambient form (no caller passed: the running handler's call), else the
 * value the app passed (the explicit form), even when that value is undefined.
 */
export type GivenCaller = { readonly caller: unknown } | undefined;

/** Who a context-bound method acts for, from the guard's grant (never from the app's mutable `AuthContextData`). */
interface SessionCaller {
  readonly backend: CallGrant['backend'];
  readonly claims: VerifiedClaims | undefined;
  readonly userId: string;
  readonly sessionId: string | undefined;
  /** The call's own carrier: its client (IP, user agent) for audit. */
  readonly client: Carrier;
  /** Where cookies may be written: the call's response, only while its own handler runs; else none. */
  readonly cookies: Carrier | undefined;
}

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
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    private readonly gate: RevocationGate,
    private readonly writer: RevocationWriter,
    private readonly tokens: TokenIssuer,
    private readonly users: AuthUsers,
    private readonly audit: AuditEmitter,
    @Inject(AUTH_OPTIONS) private readonly options: SessionSettings,
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
    await this.store.create({
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
  /**
   * Rotates a refresh token (given, or the refresh cookie). Refused tokens are bounded per IP
   * (`loginThrottle.refreshPerIp`), counted once the token is refused: a valid one is never refused for others' failures.
   */
  async refresh(refreshToken?: string): Promise<TokenPair> {
    try {
      return await this.refreshOnce(refreshToken);
    } catch (err) {
      // A refused token counts against the IP (429 over the limit); a store that failed does not.
      if (err instanceof AuthError && AUTH_ERROR_STATUS[err.code] === 401) await this.throttle.refreshFailed();
      throw err;
    }
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
    const carrier = currentContext()?.carrier;
    return this.rotate(sid, claims.sub, claims.jti, true, carrier, carrier);
  }

  /**
   * Reissues the pair of the caller's session. The access token names the
   * refresh token it was issued with, and only that one is rotated: of
   * concurrent calls with one access token, exactly one wins.
   */
  async refreshCurrent(given?: GivenCaller): Promise<TokenPair> {
    const caller = this.sessionCaller('refreshCurrentSessionToken', await this.callerOf('refreshCurrentSessionToken', given));
    const { claims } = caller;
    const fromJti = refreshJtiOf(claims.jti);
    if (fromJti === undefined) throw new AuthError('token_invalid', 'access_token_not_from_a_session_pair');
    const pair = await this.rotate(caller.sessionId, caller.userId, fromJti, false, caller.client, caller.cookies);
    // The old access token carries the old claims: retire it.
    await this.writer.revokeToken(claims.jti, new Date(claims.exp * 1000), { userId: caller.userId, reason: 'reissued' });
    return pair;
  }

  async logout(given?: GivenCaller): Promise<void> {
    const caller = await this.callerOf('logout', given);
    const claims = caller.claims;
    if (caller.backend !== 'jwt' || claims === undefined) throw new AuthError('token_missing', 'logout_without_access_token');
    const token = { jti: claims.jti, expiresAt: new Date(claims.exp * 1000), meta: { userId: caller.userId, reason: 'logout' } };
    // One write: the session's end refuses every token of it; the token itself only when there is no session to end.
    if (caller.sessionId) await this.endById(caller.sessionId, caller.userId, 'logout', token);
    else await this.writer.revokeToken(token.jti, token.expiresAt, token.meta);
    this.cookies.clear(caller.cookies);
  }

  async list(given?: GivenCaller): Promise<SessionInfo[]> {
    const { userId, sessionId } = this.sessionCaller('listSessions', await this.callerOf('listSessions', given));
    const sessions = await this.store.listForUser(userId, this.now());
    return sessions.map((s) => sessionInfo(s, sessionId));
  }

  async endOwn(sessionId: string, given?: GivenCaller): Promise<boolean> {
    const { userId } = this.sessionCaller('endSession', await this.callerOf('endSession', given));
    if (typeof sessionId !== 'string' || sessionId.length === 0) return false;
    const session = await this.store.find(sessionId);
    if (!session || session.userId !== userId || session.endedAt !== null) return false;
    return this.endById(sessionId, userId, 'ended_by_user');
  }

  /** Ends the session through the revocation writer (store, change log, this instance's gate, the channel). */
  private async endById(sid: string, userId: string, reason: string, orToken?: TokenRevocation): Promise<boolean> {
    const ended = await this.writer.endSession(sid, this.now(), reason, orToken);
    if (ended) this.audit.emit({ type: 'session.ended', userId, sessionId: sid, reason });
    return ended;
  }

  /**
   * Swaps the session's refresh token `fromJti` for a new pair. When a refresh
   * token was presented (`presented`), anything but the current one is reuse
   * and ends the session; for `refreshCurrentSessionToken` a lost race is only
   * refused.
   */
  private async rotate(
    sid: string,
    userId: string,
    fromJti: string,
    presented: boolean,
    client: Carrier | undefined,
    cookies: Carrier | undefined,
  ): Promise<TokenPair> {
    const sessions = this.store;
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
    this.audit.emit({ type: 'token.refreshed', userId, sessionId: sid, ip: clientOf(client).ip });
    return this.cookies.setSession(cookies, pair, sid) as TokenPair;
  }

  /** A refresh token that is no longer current came back: within the grace period only refuse, else end the session. */
  private async notCurrent(session: SessionRecord, jti: string, now: Date, presented: boolean): Promise<never> {
    if (!presented) throw new AuthError('token_revoked', 'session_pair_already_reissued');
    const rotatedAt = await this.store.rotatedOutAt(session.id, jti);
    const graceMs = this.options.jwt.refreshReuseGraceSeconds * 1000;
    if (rotatedAt !== null && now.getTime() - rotatedAt.getTime() < graceMs) {
      throw new AuthError('token_revoked', 'refresh_reuse_within_grace');
    }
    await this.writer.endSession(session.id, now, 'refresh_reuse');
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

  /**
   * The caller of a context-bound method. Ambient: the running handler's call,
   * where the request context can vouch for it (see requireAuthenticatedContext).
   * Explicit: the grant behind the object the app passed, which must still be
   * what the guard would accept (not expired, not revoked): it can be used
   * from a stream, a listener or a timer long after the call was checked.
   */
  private async callerOf(method: string, given: GivenCaller): Promise<SessionCaller> {
    if (given === undefined) {
      const { context, grant } = requireAuthenticatedContext(method);
      return callerFrom(grant, context.carrier);
    }
    const grant = requireGrant(method, given.caller);
    const running = currentContext();
    // Cookies go on this call's response only while its own handler runs: never on the response of whoever pushed into a stream.
    const own = running !== undefined && !running.streaming && running.carrier === grant.carrier;
    const caller = callerFrom(grant, own ? grant.carrier : undefined);
    if (caller.claims !== undefined) await this.stillAccepted(method, caller.claims);
    return caller;
  }

  private async stillAccepted(method: string, claims: VerifiedClaims): Promise<void> {
    const now = this.options.clock.now() / 1000;
    if (claims.exp <= now - this.options.jwt.clockTolerance) throw new AuthError('token_expired', `${method}_caller_token_expired`);
    const verdict = await this.gate.check(claims);
    if (verdict !== null) throw new AuthError(verdict, `${method}_caller_${verdict}`);
  }

  /** The session methods other than logout act for a session: an API key or a token without `sid` is refused as logout refuses an API key. */
  private sessionCaller(method: string, caller: SessionCaller): SessionCaller & { claims: VerifiedClaims; sessionId: string; userId: string } {
    if (caller.backend !== 'jwt' || caller.claims === undefined || caller.sessionId === undefined) {
      throw new AuthError('token_missing', `${method}_without_session`);
    }
    return caller as SessionCaller & { claims: VerifiedClaims; sessionId: string; userId: string };
  }
}

function callerFrom(grant: CallGrant, cookies: Carrier | undefined): SessionCaller {
  return {
    backend: grant.backend,
    claims: grant.backend === 'jwt' ? (grant.claims as VerifiedClaims | undefined) : undefined,
    userId: grant.userId,
    sessionId: grant.sessionId || undefined,
    client: grant.carrier,
    cookies,
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
