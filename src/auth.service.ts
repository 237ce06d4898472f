import { Injectable } from '@nestjs/common';
import type { AuthContextData } from './context/auth-context.js';
import type { Caller } from './call/caller.js';
import { NO_CALLER } from './call/caller.js';
import { grantOf, requireGrant } from './context/call-grant.js';
import { currentContext, requireAuthenticatedContext, type HandlerContext } from './context/request-context.js';
import { CookieJar, type CookieSessionBody } from './cookies/cookie-jar.js';
import { AuthError } from './errors/auth-error.js';
import { AUTH_ERROR_STATUS } from './errors/messages.js';
import { LoginService } from './login/login.service.js';
import { RevocationService } from './revocation/revocation.service.js';
import { Authenticator } from './authentication/authenticator.js';
import { clientOf } from './call/client.js';
import { SessionService, type GivenCaller, type IssuedSession, type SessionCall, type SessionInfo } from './sessions/session.service.js';
import { ClientAddress } from './throttle/client-address.js';
import { DeviceCookies } from './throttle/device-cookie.js';
import type { RememberedDevice } from './throttle/login-throttle.js';
import type { Carrier } from './call/carrier.js';
import { refusalFor } from './call/transports.js';
import { TokenIssuer, type TokenPair } from './tokens/token-issuer.js';
import type { VerifiedClaims } from './tokens/token.types.js';
import type { AuthUserRecord } from './users/user.types.js';

export type { TokenPair } from './tokens/token-issuer.js';
export type { SessionInfo } from './sessions/session.service.js';
export type { CookieSessionBody } from './cookies/cookie-jar.js';
export type AccessTokenClaims = VerifiedClaims;

/**
 * What `login()`, `refresh()` and `refreshCurrentSessionToken()` answer: the `TokenPair`; or, when they set the
 * session cookies on the call's own HTTP response (`cookies.enabled`), a `CookieSessionBody`: the page's
 * `csrfToken` added, and the tokens left out for a browser (`cookies.tokensInBody`). Narrow with `'csrfToken' in result`.
 */
export type SessionTokens = TokenPair | CookieSessionBody;

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
    private readonly cookies: CookieJar,
    private readonly addresses: ClientAddress,
    private readonly devices: DeviceCookies,
  ) {}

  login(username: string, password: string): Promise<SessionTokens> {
    const caller = this.caller();
    return exposed(async () => {
      this.tokens.assertIssuing('login');
      const { session, device } = await this.logins.login(username, password, caller);
      this.rememberDevice(caller, device);
      return this.answer(caller.own ? caller.carrier : undefined, session);
    });
  }

  /**
   * With no argument and `cookies.enabled`, reads the refresh cookie (after the CSRF check). Refused tokens are
   * bounded per IP (`loginThrottle.refreshPerIp`), counted once the token is refused: a valid one is never
   * refused for others' failures.
   */
  refresh(refreshToken?: string): Promise<SessionTokens> {
    const caller = this.caller();
    return exposed(async () => {
      this.tokens.assertIssuing('refresh');
      try {
        return await this.refreshFor(caller, refreshToken);
      } catch (err) {
        // A refused token counts against the address (429 over the limit); a store that failed does not.
        if (err instanceof AuthError && AUTH_ERROR_STATUS[err.code] === 401) await this.logins.refreshRefused(caller);
        throw err;
      }
    });
  }

  /**
   * Reissues the pair of the caller's session, with the user reloaded (changed permissions show).
   * `caller`: the `AuthContextData` of the call (`@AuthContext()`): the way in streams, gateways and event code;
   * without it, the running handler's call (see the README, "Streams, gateways and event code").
   */
  refreshCurrentSessionToken(caller?: AuthContextData): Promise<SessionTokens>;
  refreshCurrentSessionToken(...args: [AuthContextData?]): Promise<SessionTokens> {
    const given = givenCaller(args, 0);
    return exposed(async () => {
      this.tokens.assertIssuing('refreshCurrentSessionToken');
      const { call, out } = this.sessionCall('refreshCurrentSessionToken', given);
      return this.answer(out, await this.sessions.refreshCurrent(call));
    }, given);
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
    const context = currentContext();
    return exposed(async () => {
      await this.revocations.revokeAllForUser(userId);
      // The caller signing themself out everywhere: this browser's cookies go too.
      if (context !== undefined && ownCall(context) && context.auth?.userId === userId) this.cookies.clear(context.carrier);
    });
  }

  /** Ends the caller's session (`caller` as for refreshCurrentSessionToken): its refresh token and its access tokens stop working. */
  logout(caller?: AuthContextData): Promise<void>;
  logout(...args: [AuthContextData?]): Promise<void> {
    const given = givenCaller(args, 0);
    return exposed(async () => {
      const { call, out } = this.sessionCall('logout', given);
      await this.sessions.logout(call);
      this.cookies.clear(out);
    }, given);
  }

  /** The live sessions of the caller (`caller` as for refreshCurrentSessionToken). */
  listSessions(caller?: AuthContextData): Promise<SessionInfo[]>;
  listSessions(...args: [AuthContextData?]): Promise<SessionInfo[]> {
    const given = givenCaller(args, 0);
    return exposed(() => this.sessions.list(this.sessionCall('listSessions', given).call), given);
  }

  /** Ends one of the caller's own sessions (`caller` as for refreshCurrentSessionToken). False when it is not theirs, or not live. */
  endSession(sessionId: string, caller?: AuthContextData): Promise<boolean>;
  endSession(sessionId: string, ...args: [AuthContextData?]): Promise<boolean> {
    const given = givenCaller(args, 0);
    return exposed(() => this.sessions.endOwn(sessionId, this.sessionCall('endSession', given).call), given);
  }

  /** Deletes revocations, sessions and cut-offs whose tokens have all expired. Also runs periodically. */
  purgeExpired(): Promise<number> {
    return exposed(() => this.revocations.purgeExpired());
  }

  /** The public keys of the key ring as a JWK Set (RFC 7517), for verifiers elsewhere. */
  getJwks(): { keys: Record<string, unknown>[] } {
    return this.tokens.codec.jwks();
  }

  /**
   * The caller of `login()` / `refresh()`, read once from the running call: the services below take it as a
   * parameter and never read the request context themselves. Its address is read when first asked for.
   */
  private caller(): Caller {
    const context = currentContext();
    if (context === undefined) return NO_CALLER;
    const { carrier } = context;
    const { ip, userAgent } = clientOf(carrier);
    const addresses = this.addresses;
    let address: { value: string | undefined } | undefined;
    return {
      carrier,
      get address() {
        address ??= { value: addresses.of(carrier) };
        return address.value;
      },
      ip,
      userAgent,
      skipLoginThrottle: context.policy?.skipLoginThrottle === true,
      own: ownCall(context),
    };
  }

  /**
   * The authenticated call a session method acts for, and the response its cookies may go on. Ambient: the
   * running handler's call, where the request context can vouch for it (see requireAuthenticatedContext).
   * Explicit: the grant behind the object the app passed; cookies go on that call's response only while its own
   * handler runs, never on the response of whoever pushed into a stream.
   */
  private sessionCall(method: string, given: GivenCaller): { call: SessionCall; out: Carrier | undefined } {
    if (given === undefined) {
      const { context, grant } = requireAuthenticatedContext(method);
      return { call: { grant, kept: false }, out: context.carrier };
    }
    const grant = requireGrant(method, given.caller);
    const running = currentContext();
    const own = running !== undefined && !running.streaming && running.carrier === grant.carrier;
    return { call: { grant, kept: true }, out: own ? grant.carrier : undefined };
  }

  private async refreshFor(caller: Caller, refreshToken: string | undefined): Promise<SessionTokens> {
    if (refreshToken !== undefined && refreshToken !== '') {
      return this.answer(caller.own ? caller.carrier : undefined, await this.sessions.refresh(refreshToken, caller));
    }
    const fromCookie = this.cookies.refreshTokenOf(caller.carrier);
    if (fromCookie === undefined) throw new AuthError('token_missing', 'no_refresh_token');
    const out = caller.own ? caller.carrier : undefined;
    try {
      return this.answer(out, await this.sessions.refresh(fromCookie, caller));
    } catch (err) {
      // A refresh cookie that can never work again (reused, revoked, expired) is dropped from the browser.
      if (err instanceof AuthError && AUTH_ERROR_STATUS[err.code] === 401) this.cookies.clear(out);
      throw err;
    }
  }

  /**
   * The one place a new pair goes out: inside the call's own HTTP request with `cookies.enabled`, the cookies go
   * on its response and the body may withhold the tokens; anywhere else (`out` undefined) the pair as it is.
   */
  private answer(out: Carrier | undefined, { pair, sessionId }: IssuedSession): SessionTokens {
    return this.cookies.setSession(out, pair, sessionId);
  }

  /** After a successful login from a browser: the device cookie (`loginThrottle.deviceCookie`) on the call's own response. */
  private rememberDevice(caller: Caller, device: RememberedDevice | undefined): void {
    if (device === undefined || !caller.own) return;
    try {
      this.devices.issue(caller.carrier, device.account, device.id);
    } catch {
      // The login is done: a device cookie that could not be set must not take its result from the caller.
    }
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

/**
 * The running code serves the context's own call: not a stream's pipeline (it runs for whoever pushes into it),
 * not a handler whose class cannot reach AuthService (its code is a subscriber that handler fed). Only then is
 * anything written on the context's response.
 */
function ownCall(context: HandlerContext): boolean {
  if (!context.open || context.streaming) return false;
  return context.reach === undefined || context.owner === undefined || context.reach.needsContext(context.owner);
}

/** The explicit form when the app passed the caller argument at all (even `undefined`, a guest's): it is then never ambient. */
function givenCaller(args: unknown[], index: number): GivenCaller {
  return args.length > index ? { caller: args[index] } : undefined;
}
