import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { Caller } from '../call/caller.js';
import type { CallGrant } from '../context/call-grant.js';
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
import { SESSION_STORE, type SessionRecord, type SessionStore } from './session-store.js';
import type { Carrier } from '../call/carrier.js';

/**
 * How AuthService names the caller of a context-bound method: undefined for
 * the ambient form (no caller passed: the running handler's call), else the
 * value the app passed (the explicit form), even when that value is undefined.
 */
export type GivenCaller = { readonly caller: unknown } | undefined;

/**
 * The authenticated call a session method acts for, as AuthService resolved it: the guard's grant (never the
 * app's mutable `AuthContextData`), and whether the app passed it (the explicit form).
 */
export interface SessionCall {
  readonly grant: CallGrant;
  /** Passed by the app: it may have been kept from an earlier call, so each use checks its token is still accepted. */
  readonly kept: boolean;
}

/** A session's new pair and the session it belongs to: AuthService puts the cookies on the answer. */
export interface IssuedSession {
  readonly pair: TokenPair;
  readonly sessionId: string;
}

/** Who a context-bound method acts for, from the guard's grant (never from the app's mutable `AuthContextData`). */
interface SessionCaller {
  readonly backend: CallGrant['backend'];
  readonly claims: VerifiedClaims | undefined;
  readonly userId: string;
  readonly sessionId: string | undefined;
  /** The call's own carrier: its client (IP, user agent) for audit. */
  readonly client: Carrier;
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
  ) {}

  private now(): Date {
    return new Date(this.options.clock.now());
  }

  async start(user: AuthUserRecord, caller: Pick<Caller, 'ip' | 'userAgent'>): Promise<IssuedSession> {
    const sid = randomBytes(16).toString('base64url');
    const userId = String(user.id);
    const client = caller;
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
    return { pair, sessionId: sid };
  }

  /** Rotates a refresh token; `caller`'s address goes in the audit events. */
  async refresh(refreshToken: string, caller: Pick<Caller, 'ip'>): Promise<IssuedSession> {
    const claims = this.tokens.verify(refreshToken, 'refresh');
    const sid = claims.sid;
    if (typeof sid !== 'string') throw new AuthError('token_invalid', 'refresh_token_without_session');
    // Refresh is rare: ask the store itself, whatever the consistency mode.
    const verdict = await this.gate.checkInStore({ jti: claims.jti, sid, sub: claims.sub, iat: claims.iat });
    if (verdict !== null) throw new AuthError(verdict, 'refresh_token_revoked');
    return this.rotate(sid, claims.sub, claims.jti, true, caller.ip);
  }

  /**
   * Reissues the pair of the caller's session. The access token names the
   * refresh token it was issued with, and only that one is rotated: of
   * concurrent calls with one access token, exactly one wins.
   */
  async refreshCurrent(call: SessionCall): Promise<IssuedSession> {
    const caller = this.sessionCaller('refreshCurrentSessionToken', await this.callerOf('refreshCurrentSessionToken', call));
    const { claims } = caller;
    const fromJti = refreshJtiOf(claims.jti);
    if (fromJti === undefined) throw new AuthError('token_invalid', 'access_token_not_from_a_session_pair');
    const issued = await this.rotate(caller.sessionId, caller.userId, fromJti, false, clientOf(caller.client).ip);
    // The old access token carries the old claims: retire it.
    await this.writer.revokeToken(claims.jti, new Date(claims.exp * 1000), { userId: caller.userId, reason: 'reissued' });
    return issued;
  }

  async logout(call: SessionCall): Promise<void> {
    const caller = await this.callerOf('logout', call);
    const claims = caller.claims;
    if (caller.backend !== 'jwt' || claims === undefined) throw new AuthError('token_missing', 'logout_without_access_token');
    const token = { jti: claims.jti, expiresAt: new Date(claims.exp * 1000), meta: { userId: caller.userId, reason: 'logout' } };
    // One write: the session's end refuses every token of it; the token itself only when there is no session to end.
    if (caller.sessionId) await this.endById(caller.sessionId, caller.userId, 'logout', token);
    else await this.writer.revokeToken(token.jti, token.expiresAt, token.meta);
  }

  async list(call: SessionCall): Promise<SessionInfo[]> {
    const { userId, sessionId } = this.sessionCaller('listSessions', await this.callerOf('listSessions', call));
    const sessions = await this.store.listForUser(userId, this.now());
    return sessions.map((s) => sessionInfo(s, sessionId));
  }

  async endOwn(sessionId: string, call: SessionCall): Promise<boolean> {
    const { userId } = this.sessionCaller('endSession', await this.callerOf('endSession', call));
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
  private async rotate(sid: string, userId: string, fromJti: string, presented: boolean, ip: string | undefined): Promise<IssuedSession> {
    const sessions = this.store;
    const { jwt } = this.options;
    const session = await sessions.find(sid);
    const now = this.now();
    if (!session || session.userId !== userId) throw new AuthError('token_invalid', 'unknown_session');
    if (session.endedAt !== null || session.expiresAt <= now) throw new AuthError('token_revoked', 'session_ended');
    if (session.currentJti !== fromJti) return this.notCurrent(session, fromJti, now, presented, ip);

    const user = await this.users.users.findById(userId);
    if (!user || user.isActive === false) {
      await this.endById(sid, userId, user ? 'user_inactive' : 'user_gone');
      throw new AuthError('token_revoked', 'user_gone_or_inactive');
    }
    const expiresAt = jwt.slidingSessions ? new Date(now.getTime() + jwt.refreshTokenTtl * 1000) : session.expiresAt;
    const refreshTtl = Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
    const { pair, refresh } = this.tokens.sessionPair(user, sid, refreshTtl);
    const won = await sessions.rotate(sid, fromJti, refresh.claims.jti, now, jwt.slidingSessions ? expiresAt : undefined);
    if (!won) return this.notCurrent(session, fromJti, now, presented, ip);
    this.audit.emit({ type: 'token.refreshed', userId, sessionId: sid, ip });
    return { pair, sessionId: sid };
  }

  /** A refresh token that is no longer current came back: within the grace period only refuse, else end the session. */
  private async notCurrent(session: SessionRecord, jti: string, now: Date, presented: boolean, ip: string | undefined): Promise<never> {
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
      ip,
      reason: rotatedAt === null ? 'unknown_refresh_token' : 'rotated_out_token_presented',
    });
    throw new AuthError('token_revoked', 'refresh_reuse');
  }

  /**
   * The caller of a context-bound method, from the call AuthService resolved (the running handler's, or the one
   * the app passed). A passed one must still be what the guard would accept (not expired, not revoked): it can
   * be used from a stream, a listener or a timer long after the call was checked.
   */
  private async callerOf(method: string, call: SessionCall): Promise<SessionCaller> {
    const caller = callerFrom(call.grant);
    if (call.kept && caller.claims !== undefined) await this.stillAccepted(method, caller.claims);
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

function callerFrom(grant: CallGrant): SessionCaller {
  return {
    backend: grant.backend,
    claims: grant.backend === 'jwt' ? (grant.claims as VerifiedClaims | undefined) : undefined,
    userId: grant.userId,
    sessionId: grant.sessionId || undefined,
    client: grant.carrier,
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
