import { Injectable } from '@nestjs/common';
import type { AuthContextData } from './context/auth-context.js';
import { grantOf } from './context/call-grant.js';
import { currentContext } from './context/request-context.js';
import { AuthError } from './errors/auth-error.js';
import { LoginService } from './login/login.service.js';
import { RevocationService } from './revocation/revocation.service.js';
import { Authenticator } from './authentication/authenticator.js';
import { SessionService, type GivenCaller, type SessionInfo } from './sessions/session.service.js';
import type { Carrier } from './call/carrier.js';
import { refusalFor } from './call/transports.js';
import { TokenIssuer, type TokenPair } from './tokens/token-issuer.js';
import type { VerifiedClaims } from './tokens/token.types.js';
import type { AuthUserRecord } from './users/user.types.js';

export type { TokenPair } from './tokens/token-issuer.js';
export type { SessionInfo } from './sessions/session.service.js';
export type AccessTokenClaims = VerifiedClaims;

/**
 * The public façade of the module (API.md): login, refresh rotation, the
 * caller's sessions, revocation and token issuing, each delegated to the
 * service that owns it. Failures reach the caller as Nest's own HTTP
 * exceptions (`UnauthorizedException`, `ForbiddenException`,
 * `ServiceUnavailableException`, 429) with the `code` in their response.
 */
@Injectable()
export class AuthService {
  constructor(
    private readonly logins: LoginService,
    private readonly sessions: SessionService,
    private readonly revocations: RevocationService,
    private readonly tokens: TokenIssuer,
    private readonly authenticator: Authenticator,
  ) {}

  login(username: string, password: string): Promise<TokenPair> {
    return exposed(() => (this.tokens.assertIssuing('login'), this.logins.login(username, password)));
  }

  /** With no argument and `cookies.enabled`, reads the refresh cookie (after the CSRF check). */
  refresh(refreshToken?: string): Promise<TokenPair> {
    return exposed(() => (this.tokens.assertIssuing('refresh'), this.sessions.refresh(refreshToken)));
  }

  /**
   * Reissues the pair of the caller's session, with the user reloaded (changed permissions show).
   * `caller`: the `AuthContextData` of the call (`@AuthContext()`): the way in streams, gateways and event code;
   * without it, the running handler's call (see the README, "Streams, gateways and event code").
   */
  refreshCurrentSessionToken(caller?: AuthContextData): Promise<TokenPair>;
  refreshCurrentSessionToken(...args: [AuthContextData?]): Promise<TokenPair> {
    const given = givenCaller(args, 0);
    return exposed(() => (this.tokens.assertIssuing('refreshCurrentSessionToken'), this.sessions.refreshCurrent(given)), given);
  }

  /** An access token from a payload the caller already trusts; `iat`, `exp`, `jti`, `iss`, `aud` are the module's. */
  async createToken(payload: Record<string, unknown>, opts: { expiresIn?: number; audience?: string | string[] } = {}): Promise<string> {
    this.tokens.assertIssuing('createToken');
    return this.tokens.createToken(payload, opts);
  }

  async createTokenForUser(user: AuthUserRecord, opts: { expiresIn?: number; extraClaims?: Record<string, unknown> } = {}): Promise<string> {
    this.tokens.assertIssuing('createTokenForUser');
    return this.tokens.createTokenForUser(user, opts);
  }

  /** Verifies an access token as the guard does, revocation included. */
  verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    return exposed(async () => {
      const auth = await this.authenticator.authenticate({ kind: 'bearer', token: this.tokenOf(token) });
      return auth.claims as AccessTokenClaims;
    });
  }

  /** Revokes one token, given as the token itself (access or refresh) or as its `jti`. */
  revokeToken(tokenOrJti: string): Promise<void> {
    return exposed(() => this.revocations.revokeToken(tokenOrJti));
  }

  /** Refuses every token of the user issued before now and ends all their sessions. New logins work. */
  revokeAllForUser(userId: string): Promise<void> {
    return exposed(() => this.revocations.revokeAllForUser(userId));
  }

  /** Ends the caller's session (`caller` as for refreshCurrentSessionToken): its refresh token and its access tokens stop working. */
  logout(caller?: AuthContextData): Promise<void>;
  logout(...args: [AuthContextData?]): Promise<void> {
    const given = givenCaller(args, 0);
    return exposed(() => this.sessions.logout(given), given);
  }

  /** The live sessions of the caller (`caller` as for refreshCurrentSessionToken). */
  listSessions(caller?: AuthContextData): Promise<SessionInfo[]>;
  listSessions(...args: [AuthContextData?]): Promise<SessionInfo[]> {
    const given = givenCaller(args, 0);
    return exposed(() => this.sessions.list(given), given);
  }

  /** Ends one of the caller's own sessions (`caller` as for refreshCurrentSessionToken). False when it is not theirs, or not live. */
  endSession(sessionId: string, caller?: AuthContextData): Promise<boolean>;
  endSession(sessionId: string, ...args: [AuthContextData?]): Promise<boolean> {
    const given = givenCaller(args, 0);
    return exposed(() => this.sessions.endOwn(sessionId, given), given);
  }

  /** Deletes revocations, sessions and cut-offs whose tokens have all expired. Also runs periodically. */
  purgeExpired(): Promise<number> {
    return exposed(() => this.revocations.purgeExpired());
  }

  /** The public keys of the key ring as a JWK Set (RFC 7517), for verifiers elsewhere. */
  getJwks(): { keys: Record<string, unknown>[] } {
    return this.tokens.codec.jwks();
  }

  private tokenOf(token: unknown): string {
    if (typeof token !== 'string' || token.length === 0) throw new AuthError('token_missing', 'no_token_given');
    return token;
  }
}

/**
 * Runs a service call and turns its `AuthError` into the failure of the
 * transport it was called in: a `WsException` in a gateway, an `RpcException`
 * in a message handler, a GraphQL error in a resolver, and otherwise Nest's
 * HTTP exception (with `Retry-After` on the response). Without a request
 * context the HTTP exception bears the refusal, and the refusal interceptor
 * of a resolver, gateway or message handler maps it to its transport.
 */
async function exposed<T>(call: () => Promise<T>, given?: GivenCaller): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // An explicit caller's failure takes the shape of that caller's transport, not of whatever code runs it.
    const carrier: Carrier | undefined = (given === undefined ? undefined : grantOf(given.caller)?.carrier) ?? currentContext()?.carrier;
    // Every refusal (the throttle's too) becomes that transport's failure, retry hint included.
    throw refusalFor(carrier, err);
  }
}

/** The explicit form when the app passed the caller argument at all (even `undefined`, a guest's): it is then never ambient. */
function givenCaller(args: unknown[], index: number): GivenCaller {
  return args.length > index ? { caller: args[index] } : undefined;
}
