import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { Authenticator } from '../authentication/authenticator.js';
import { principalOf } from '../authentication/principal.js';
import { isAuthorized } from '../authorization/authorize.js';
import type { RoutePolicy } from '../authorization/route-policy.js';
import type { AuthContextData } from '../context/auth-context.js';
import { grantCall } from '../context/call-grant.js';
import { REQUEST_CONTEXT_MODE, type RequestContextMode } from '../context/request-context.interceptor.js';
import { readCredential, type Credential, type CredentialSource } from '../credentials/credential.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { AuthError } from '../errors/auth-error.js';
import { TrustedIssuers } from '../issuers/trusted-issuers.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import type { Carrier } from '../call/carrier.js';
import { markGuarded } from '../call/record.js';
import { failureFor } from '../call/transports.js';

/**
 * One pass over a call, shared by every guard the module exports and by its
 * passport strategy: credentials -> authenticate (verification and the
 * revocation verdict) -> authorize (the route policy) -> context. Returns
 * true, or throws the carrier's transport failure. On the common path (a
 * bearer token, cached revocation) it stays synchronous.
 */
@Injectable()
export class AuthPipeline {
  private readonly rejectInvalidOnPublic: boolean;
  /** False with `requestContext: false`: no call is marked, so no context interceptor (another app's) binds one. */
  private readonly marksCalls: boolean;
  private readonly logger = new Logger('NestAuthGuard');
  /** Set when some trusted issuer takes DPoP: a refused call is challenged for that scheme too. */
  private readonly issuers: TrustedIssuers | undefined;

  constructor(
    private readonly authenticator: Authenticator,
    private readonly audit: AuditEmitter,
    @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions,
    private readonly cookies: CookieJar,
    @Optional() @Inject(REQUEST_CONTEXT_MODE) contextMode?: RequestContextMode,
    @Optional() issuers?: TrustedIssuers,
  ) {
    this.issuers = issuers?.acceptsDpop === true ? issuers : undefined;
    this.rejectInvalidOnPublic = options.publicRoutes.invalidToken === 'reject';
    this.marksCalls = contextMode !== false;
  }

  /** `handler`: the handler to mark the call for (the context interceptor takes the mark); undefined, no mark. */
  run(handler: Function | undefined, carrier: Carrier, policy: RoutePolicy, sources: readonly CredentialSource[]): true | Promise<true> {
    let credential: Credential | undefined;
    try {
      credential = readCredential(sources, carrier);
    } catch (err) {
      const failure = err as AuthError;
      // Two credentials are refused on every route, public ones too: never guess which one was meant.
      if (failure.reason === 'ambiguous_credentials') throw failureFor(carrier, failure, true);
      return this.refuse(handler, carrier, policy, failure, true);
    }
    if (credential === undefined) {
      if (policy.isPublic) return this.admitGuest(handler, carrier, policy);
      throw failureFor(carrier, this.challenged(new AuthError('token_missing', 'no_credentials'), false), false);
    }
    const bearer = credential.kind !== 'api_key';
    const fromCookie = credential.kind === 'cookie';
    let auth: AuthContextData | Promise<AuthContextData>;
    try {
      auth = this.authenticator.authenticate(credential);
    } catch (err) {
      return this.refuse(handler, carrier, policy, err, bearer);
    }
    if (auth instanceof Promise) {
      return auth.then(
        (a) => this.admit(handler, carrier, policy, a, fromCookie),
        (err: unknown) => this.refuse(handler, carrier, policy, err, bearer),
      );
    }
    return this.admit(handler, carrier, policy, auth, fromCookie);
  }

  /** Authenticated: record the principal, then authorize against the route's policy. */
  private admit(handler: Function | undefined, carrier: Carrier, policy: RoutePolicy, auth: AuthContextData, fromCookie = false): true {
    if (fromCookie && !this.csrfPassed(carrier, policy, auth)) return this.admitGuest(handler, carrier, policy);
    const target = carrier.target;
    target.auth = auth;
    target.user = principalOf(auth);
    if (!isAuthorized(policy, auth)) {
      this.audit.emit({
        type: 'access.denied',
        userId: auth.userId,
        sessionId: auth.sessionId,
        route: policy.route,
        required: policy.required,
        reason: auth.backend === 'api_key' ? 'api_key_lacks_permission' : 'lacks_permission',
      });
      throw failureFor(carrier, new AuthError('permission_denied', 'lacks_permission'), false);
    }
    // The explicit form of the session methods accepts this very object, and only it, as this call's caller.
    grantCall(auth, carrier);
    if (this.marksCalls) markGuarded(handler, carrier, auth, policy);
    return true;
  }

  /**
   * The CSRF check of a call the access cookie authenticated. On a public route a failure leaves the caller
   * a guest (false); on a private one it is 403 `csrf_failed`.
   */
  private csrfPassed(carrier: Carrier, policy: RoutePolicy, auth: AuthContextData): boolean {
    try {
      this.cookies.checkCsrf(carrier, auth);
      return true;
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      if (policy.isPublic) return false;
      this.audit.emit({
        type: 'access.denied',
        userId: auth.userId,
        sessionId: auth.sessionId,
        route: policy.route,
        reason: `csrf_failed:${err.reason}`,
      });
      throw failureFor(carrier, err, false);
    }
  }

  private admitGuest(handler: Function | undefined, carrier: Carrier, policy: RoutePolicy): true {
    if (this.marksCalls) markGuarded(handler, carrier, undefined, policy);
    return true;
  }

  /** Credentials were sent and failed. A public route treats the caller as a guest unless configured to reject. */
  private refuse(handler: Function | undefined, carrier: Carrier, policy: RoutePolicy, err: unknown, tokenPresented: boolean): true {
    const failure = err instanceof AuthError ? err : this.unexpected(err);
    if (policy.isPublic && !this.rejectInvalidOnPublic) return this.admitGuest(handler, carrier, policy);
    throw failureFor(carrier, this.challenged(failure, tokenPresented), tokenPresented);
  }

  /** With a DPoP issuer, a 401's challenge names that scheme too (RFC 9449 §7.2). */
  private challenged(failure: AuthError, tokenPresented: boolean): AuthError {
    return this.issuers === undefined ? failure : this.issuers.challenge(failure, tokenPresented);
  }

  private unexpected(err: unknown): AuthError {
    // Not the credential's fault (a store, a bug): log what broke, with no token in it, and answer 503.
    this.logger.error(`credential check failed: ${err instanceof Error ? err.message : String(err)}`);
    return new AuthError('auth_unavailable', 'unexpected_error');
  }
}
