import type { SerializeOptions } from 'cookie';
import type { AuthContextData } from '../context/auth-context.js';
import type { ResolvedCookieOptions, CookieSpec } from './cookie.options.js';
import { checkCsrfFor, checkOrigin, csrfFailed, csrfTokenFor, csrfTokenMatches, isSafeMethod } from './csrf.js';
import { appendSetCookie, cookiesOf, headerOf, serializeCookie, type CookieCarrier } from './http-cookies.js';

/** The pair `login()` / `refresh()` issue (the shape of `TokenPair`). */
export interface IssuedPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshExpiresIn: number;
}

/** What `login()` / `refresh()` return when they set the cookies: the pair (unless withheld) and the page's CSRF token. */
export interface CookieSessionBody {
  accessToken?: string;
  refreshToken?: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshExpiresIn: number;
  csrfToken: string;
}

const EPOCH = new Date(0);

/**
 * The cookie transport, as functions the services and the guard call:
 * `setSession` after login/refresh, `clear` after logout, `refreshTokenOf` for `refresh()` with no
 * argument, `accessTokenOf` for the credential source, `checkCsrf` after authentication,
 * `checkLoginOrigin` before a login. Every one of them does nothing when `cookies.enabled` is false.
 */
export class CookieJar {
  constructor(readonly options: ResolvedCookieOptions) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  /**
   * Sets the access, refresh and CSRF cookies on the carrier's response and returns the body the route
   * should answer with. Without an HTTP response (another transport, or outside a request) the pair comes back as it is.
   */
  setSession<P extends IssuedPair>(carrier: CookieCarrier | undefined, pair: P, sessionId: string): P | CookieSessionBody {
    if (!this.enabled || carrier === undefined || carrier.type !== 'http' || carrier.response === undefined) return pair;
    const o = this.options;
    const csrfToken = csrfTokenFor(sessionId, o.csrfKeys);
    const set = appendSetCookie(carrier.response, [
      this.serialize(o.access, pair.accessToken, { httpOnly: true, maxAge: pair.expiresIn }),
      this.serialize(o.refresh, pair.refreshToken, { httpOnly: true, maxAge: pair.refreshExpiresIn }),
      // Readable by the page (it sends it back in the header); lives as long as the session can be refreshed.
      this.serialize(o.csrfCookie, csrfToken, { httpOnly: false, maxAge: pair.refreshExpiresIn }),
    ]);
    if (!set) return pair;
    const withheld = o.tokensInBody === 'never' || (o.tokensInBody === 'auto' && isBrowserRequest(carrier));
    if (withheld) {
      return { tokenType: pair.tokenType, expiresIn: pair.expiresIn, refreshExpiresIn: pair.refreshExpiresIn, csrfToken };
    }
    return { ...pair, csrfToken };
  }

  /** Expires the three cookies on the carrier's response (logout, sign-out everywhere, a refused refresh cookie). */
  clear(carrier: CookieCarrier | undefined): void {
    if (!this.enabled || carrier === undefined || carrier.type !== 'http' || carrier.response === undefined) return;
    const o = this.options;
    appendSetCookie(carrier.response, [
      this.serialize(o.access, '', { httpOnly: true, maxAge: 0, expires: EPOCH }),
      this.serialize(o.refresh, '', { httpOnly: true, maxAge: 0, expires: EPOCH }),
      this.serialize(o.csrfCookie, '', { httpOnly: false, maxAge: 0, expires: EPOCH }),
    ]);
  }

  /** The raw access cookie, or undefined. */
  accessTokenOf(carrier: CookieCarrier): string | undefined {
    if (!this.enabled || carrier.type !== 'http') return undefined;
    return cookiesOf(carrier)[this.options.access.name] || undefined;
  }

  /**
   * The refresh cookie for `refresh()` called with no argument, after the CSRF check of a cookie-borne refresh:
   * the origin, and the session's CSRF token in the header. The session id for that check is read from the
   * token's payload before its signature is verified; `refresh()` verifies the signature right after, and a
   * forged session id gains nothing (its HMAC is still unknown). Undefined when there is no refresh cookie.
   */
  refreshTokenOf(carrier: CookieCarrier | undefined): string | undefined {
    if (!this.enabled || carrier === undefined || carrier.type !== 'http') return undefined;
    const token = cookiesOf(carrier)[this.options.refresh.name];
    if (!token) return undefined;
    if (isSafeMethod(carrier)) return token;
    checkOrigin(carrier, this.options);
    const sid = unverifiedSessionId(token);
    const header = headerOf(carrier, this.options.csrfHeader);
    if (header === undefined || header === '') throw csrfFailed('csrf_token_missing');
    if (sid === undefined || !csrfTokenMatches(header, sid, this.options.csrfKeys)) throw csrfFailed('csrf_token_mismatch');
    return token;
  }

  /** Login CSRF: a login from a foreign origin would plant the attacker's session in the victim's browser. */
  checkLoginOrigin(carrier: CookieCarrier | undefined): void {
    if (!this.enabled || carrier === undefined || carrier.type !== 'http') return;
    checkOrigin(carrier, this.options);
  }

  /**
   * After the access cookie authenticated the request: state-changing methods need the origin check and the
   * session's CSRF token. Call it only when the credential came from the cookie: a bearer header or an API key
   * is never sent by a browser on its own, so it needs no CSRF token.
   */
  checkCsrf(carrier: CookieCarrier, auth: Pick<AuthContextData, 'sessionId'>): void {
    if (!this.enabled) return;
    checkCsrfFor(carrier, auth.sessionId, this.options);
  }

  private serialize(spec: CookieSpec, value: string, extra: Pick<SerializeOptions, 'httpOnly' | 'maxAge' | 'expires'>): string {
    const o = this.options;
    return serializeCookie(spec.name, value, {
      ...extra,
      path: spec.path,
      domain: o.domain,
      secure: o.secure,
      sameSite: o.sameSite,
    });
  }
}

/** A browser marks every request it sends with Fetch Metadata, and every cross-origin or POST one with `Origin`; scripts cannot remove either. */
export function isBrowserRequest(carrier: CookieCarrier): boolean {
  return headerOf(carrier, 'sec-fetch-site') !== undefined || headerOf(carrier, 'origin') !== undefined;
}

function unverifiedSessionId(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1].length > 8192) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { sid?: unknown };
    return typeof payload.sid === 'string' ? payload.sid : undefined;
  } catch {
    return undefined;
  }
}
