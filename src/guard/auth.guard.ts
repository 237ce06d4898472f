import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import type { AuthContextData } from '../context/auth-context.js';
import { currentRequest } from '../context/request-context.js';
import { headersOf, requestOf, type AuthCarrier } from '../context/request-of.js';
import { AuthCore } from '../core/auth-core.js';
import { bindHttpCarrier } from '../cookies/bind-carrier.js';
import type { CookieJar } from '../cookies/cookie-jar.js';
import type { CookieCarrier } from '../cookies/http-cookies.js';
import { readCookieCredential } from '../credentials/cookie.js';
import { AuthError, type AuthErrorCode } from '../errors/auth-error.js';
import { AuthHttpException, BEARER_CHALLENGE, BEARER_INVALID_TOKEN_CHALLENGE } from '../errors/http-errors.js';
import { principalOf } from './principal.js';
import { bearerTokenOf, rawTokenOf } from './credentials.js';
import { RoutePolicyCache, type RoutePolicy } from './route-policy.js';
import { VerifiedTokenCache, type CachedVerification } from './verified-token-cache.js';

/**
 * The one guard: route policy -> credentials -> authenticate -> authorize.
 * Registered as APP_GUARD unless `globalGuard: false`. Private by default.
 * On the common path (cached revocation, JWT) it stays synchronous: no
 * promise, no database, a few Map/Set look-ups.
 */
@Injectable()
export class NestAuthGuard implements CanActivate {
  private readonly policies: RoutePolicyCache;
  private readonly tokenHeader: string;
  private readonly bearerScheme: boolean;
  private readonly apiKeyHeader: string | undefined;
  private readonly strict: boolean;
  private readonly rejectInvalidOnPublic: boolean;
  private readonly clockTolerance: number;
  private readonly verified = new VerifiedTokenCache();
  private readonly cookies: CookieJar;
  private readonly logger = new Logger('NestAuthGuard');

  constructor(
    reflector: Reflector,
    private readonly core: AuthCore,
    private readonly apiKeys: ApiKeyService,
  ) {
    const options = core.options;
    this.policies = new RoutePolicyCache(reflector);
    this.tokenHeader = options.jwt.header;
    this.bearerScheme = options.jwt.header === 'authorization';
    this.apiKeyHeader = options.apiKeys.enabled ? options.apiKeys.header : undefined;
    this.strict = options.revocation.consistency === 'strict';
    this.rejectInvalidOnPublic = options.publicRoutes.invalidToken === 'reject';
    this.clockTolerance = options.jwt.clockTolerance;
    this.cookies = core.cookies;
  }

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    const policy = this.policies.get(ctx.getHandler(), ctx.getClass());
    const type = ctx.getType<string>();
    const carrier = requestOf(ctx, type);
    if (carrier === undefined) {
      // A transport this guard does not know: deny, never let through.
      throw new AuthHttpException('token_missing', 'Authentication is required');
    }
    currentRequest.enterWith(carrier);
    const headers = headersOf(type, carrier);
    // Cookies travel over HTTP only; the service finds the response through this binding to set them.
    const http = type === 'http' && this.cookies.enabled ? bindHttpCarrier(carrier, ctx.getArgByIndex(1)) : undefined;

    let token: string | undefined;
    let apiKey: string | undefined;
    /** Set when the access token came from the cookie: such a request must pass the CSRF check. */
    let cookieCarrier: CookieCarrier | undefined;
    try {
      const value = headers?.[this.tokenHeader];
      token = this.bearerScheme ? bearerTokenOf(value) : rawTokenOf(value);
      if (this.apiKeyHeader !== undefined) {
        const raw = headers?.[this.apiKeyHeader];
        if (raw !== undefined && raw !== '') {
          if (typeof raw !== 'string') throw new AuthError('api_key_invalid', 'Malformed API key header');
          apiKey = raw;
        }
      }
      // A header always wins over the cookie the browser attaches on its own.
      if (token === undefined && apiKey === undefined && http !== undefined) {
        const credential = readCookieCredential(http, this.cookies);
        if (credential !== undefined) {
          token = credential.token;
          cookieCarrier = http;
        }
      }
    } catch (err) {
      return this.refuse(ctx, policy, err, true);
    }
    if (token !== undefined && apiKey !== undefined) {
      // Ambiguous credentials are refused on every route, public ones too: never guess which one was meant.
      return this.deny(ctx, 'token_invalid', 'Send either a bearer token or an API key, not both', true);
    }

    if (apiKey !== undefined) {
      return this.apiKeys.authenticate(apiKey).then(
        (auth) => this.admit(carrier, policy, auth),
        (err: unknown) => this.refuse(ctx, policy, err, false),
      );
    }
    if (token === undefined) {
      if (policy.isPublic) return true;
      return this.deny(ctx, 'token_missing', 'Authentication is required', false);
    }

    let verified: CachedVerification;
    try {
      verified = this.verify(token);
    } catch (err) {
      return this.refuse(ctx, policy, err, true);
    }
    const claims = verified.claims;
    if (this.strict) {
      return this.core.gate.checkStrict(claims.jti, claims.sid, claims.sub, claims.iat).then((verdict) =>
        verdict === null
          ? this.admit(carrier, policy, authOf(verified), cookieCarrier)
          : this.refuse(ctx, policy, new AuthError(verdict, revocationMessage(verdict)), true),
      );
    }
    const verdict = this.core.gate.checkCached(claims.jti, claims.sid, claims.sub, claims.iat);
    if (verdict !== null) {
      return this.refuse(ctx, policy, new AuthError(verdict, revocationMessage(verdict)), true);
    }
    return this.admit(carrier, policy, authOf(verified), cookieCarrier);
  }

  /** The strict verifier, or a token it already passed whose expiry still holds. */
  private verify(token: string): CachedVerification {
    const hit = this.verified.get(token);
    if (hit !== undefined) {
      if (hit.claims.exp > Date.now() / 1000 - this.clockTolerance) return hit;
      this.verified.delete(token);
    }
    return this.verified.add(token, this.core.codec.verify(token, 'access'));
  }

  /** Authenticated: record the principal, then authorize against the route's policy. */
  private admit(carrier: AuthCarrier, policy: RoutePolicy, auth: AuthContextData, cookieCarrier?: CookieCarrier): boolean {
    if (cookieCarrier !== undefined && !this.csrfPassed(cookieCarrier, policy, auth)) return true;
    carrier.auth = auth;
    carrier.user = principalOf(auth);
    if (policy.isPublic || isAuthorized(policy, auth)) return true;
    this.core.audit.emit({
      type: 'access.denied',
      userId: auth.userId,
      sessionId: auth.sessionId,
      route: policy.route,
      required: policy.required,
      reason: auth.backend === 'api_key' ? 'api_key_lacks_permission' : 'lacks_permission',
    });
    throw new AuthHttpException('permission_denied', 'You do not have permission to perform this action');
  }

  /**
   * The CSRF check of a cookie-authenticated request. On a public route a failure leaves the caller a guest
   * (false: the handler runs without a principal); on a private one it is 403 `csrf_failed`.
   */
  private csrfPassed(cookieCarrier: CookieCarrier, policy: RoutePolicy, auth: AuthContextData): boolean {
    try {
      this.cookies.checkCsrf(cookieCarrier, auth);
      return true;
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      if (policy.isPublic) return false;
      this.core.audit.emit({
        type: 'access.denied',
        userId: auth.userId,
        sessionId: auth.sessionId,
        route: policy.route,
        reason: `csrf_failed:${(err as AuthError & { reason?: string }).reason ?? 'unknown'}`,
      });
      throw new AuthHttpException('csrf_failed', err.message);
    }
  }

  /** Credentials were sent and failed. A public route treats the caller as a guest unless configured to reject. */
  private refuse(ctx: ExecutionContext, policy: RoutePolicy, err: unknown, bearer: boolean): boolean {
    const failure = err instanceof AuthError ? err : this.unexpected(err);
    if (policy.isPublic && !this.rejectInvalidOnPublic) return true;
    return this.deny(ctx, failure.code, failure.message, bearer);
  }

  private deny(ctx: ExecutionContext, code: AuthErrorCode, message: string, tokenPresented: boolean): never {
    if (code !== 'api_key_invalid' && code !== 'auth_unavailable' && ctx.getType<string>() === 'http') {
      setHeader(ctx.getArgByIndex(1), tokenPresented ? BEARER_INVALID_TOKEN_CHALLENGE : BEARER_CHALLENGE);
    }
    throw new AuthHttpException(code, message);
  }

  private unexpected(err: unknown): AuthError {
    // Never a 500 for a credential: log what broke (no token in it) and refuse.
    this.logger.error(`credential check failed: ${err instanceof Error ? err.message : String(err)}`);
    return new AuthError('token_invalid', 'Invalid credentials');
  }
}

function revocationMessage(code: AuthErrorCode): string {
  return code === 'token_revoked' ? 'The token has been revoked' : 'Authentication is temporarily unavailable';
}

/** A fresh context per request over the (frozen) verified claims. */
export function authOf(verified: CachedVerification): AuthContextData {
  const claims = verified.claims;
  return {
    userId: claims.sub,
    username: typeof claims.username === 'string' ? claims.username : undefined,
    isStaff: claims.is_staff === true,
    isSuperuser: claims.is_superuser === true,
    permissions: verified.permissions as string[],
    backend: 'jwt',
    claims,
    sessionId: claims.sid,
  };
}

function isAuthorized(policy: RoutePolicy, auth: AuthContextData): boolean {
  if (auth.isSuperuser) return true;
  if (policy.superuserOnly) return false;
  if (policy.staffOnly && !auth.isStaff) return false;
  const required = policy.permissions;
  if (required === undefined) return true;
  const held = auth.permissions;
  if (policy.anyPermission) {
    for (let i = 0; i < required.length; i++) if (held.includes(required[i])) return true;
    return false;
  }
  for (let i = 0; i < required.length; i++) if (!held.includes(required[i])) return false;
  return true;
}

function setHeader(response: unknown, value: string): void {
  const res = response as { header?: (n: string, v: string) => unknown; setHeader?: (n: string, v: string) => unknown };
  if (typeof res.header === 'function') res.header('WWW-Authenticate', value);
  else if (typeof res.setHeader === 'function') res.setHeader('WWW-Authenticate', value);
}
