import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import { normalizeOrigin, type ResolvedCookieOptions } from './cookie.options.js';
import { headerOf, methodOf, type CookieCarrier } from './http-cookies.js';

/** Methods that must not change state (RFC 9110 §9.2.1): no CSRF check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export type CsrfFailureReason =
  'origin_null' | 'origin_malformed' | 'foreign_origin' | 'cross_site_request' | 'csrf_token_missing' | 'csrf_token_mismatch' | 'no_session';

/** `csrf_failed`; the reason goes to logs and audit only. */
export function csrfFailed(reason: CsrfFailureReason): AuthError {
  return new AuthError('csrf_failed', reason);
}

/**
 * The double-submit token of a session: HMAC-SHA256 over its id with the server's key.
 * Stable for the session's whole life (rotation keeps the session id), useless for any other session,
 * and not computable by anyone who can read the session id (it is listed in "my sessions").
 */
export function csrfTokenFor(sessionId: string, keys: readonly Buffer[]): string {
  return createHmac('sha256', keys[0]).update('csrf:').update(sessionId).digest('base64url');
}

export function csrfTokenMatches(token: string | undefined, sessionId: string, keys: readonly Buffer[]): boolean {
  if (token === undefined || token.length !== 43) return false;
  const given = Buffer.from(token);
  let ok = false;
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha256', key).update('csrf:').update(sessionId).digest('base64url'));
    // Every key is tried, whatever matched first: the time does not tell which key signed.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

export function isSafeMethod(carrier: CookieCarrier): boolean {
  return SAFE_METHODS.has(methodOf(carrier));
}

/**
 * The request comes from the app's own origin or a trusted one. `Origin` decides when present: the
 * app's own origin has the request's scheme, host and port (the `Host` header, and the scheme the
 * framework reports: TLS on the socket, or `X-Forwarded-Proto` from a trusted proxy). An `http:`
 * page of the app's host is refused by an app reached over `https:` (or one that lists its host under
 * `https:` in `trustedOrigins`); an `https:` page of the app's host is accepted by an app that sees
 * plain HTTP, since a TLS-terminating proxy the app does not trust looks like that. Without `Origin`,
 * `Sec-Fetch-Site` must say `same-origin` (or `none`: typed by the user). With neither, the caller is
 * not a browser that could be forged into sending the cookies, and the token check still applies.
 */
export function checkOrigin(carrier: CookieCarrier, options: ResolvedCookieOptions): void {
  const origin = headerOf(carrier, 'origin');
  if (origin !== undefined) {
    // Sandboxed frames, file: pages and some redirects send "null": never the app itself.
    if (origin === 'null') throw csrfFailed('origin_null');
    const normalized = normalizeOrigin(origin);
    if (normalized === undefined) throw csrfFailed('origin_malformed');
    if (options.trustedOrigins.has(normalized)) return;
    const host = headerOf(carrier, 'host') ?? headerOf(carrier, ':authority');
    if (host !== undefined && ownOrigin(normalized, host, schemeOf(carrier), options.trustedOrigins)) return;
    throw csrfFailed('foreign_origin');
  }
  const site = headerOf(carrier, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw csrfFailed('cross_site_request');
}

/** Whether `origin` (normalized) is the app's own: its host and port are the request's `Host`, its scheme the request's (or an upgrade of it). */
function ownOrigin(origin: string, host: string, requestScheme: 'http' | 'https', trusted: ReadonlySet<string>): boolean {
  const scheme = origin.slice(0, origin.indexOf(':'));
  if (scheme !== 'http' && scheme !== 'https') return false;
  if (scheme === 'http' && requestScheme === 'https') return false;
  let own: string;
  try {
    // Parsed with the origin's own scheme, so "localhost:80" and "http://localhost" compare equal.
    own = new URL(`${scheme}://${host}`).origin;
  } catch {
    return false;
  }
  if (own !== origin) return false;
  // The app said its host is served over https (a trusted origin of the same host): its http page is not it.
  if (scheme === 'http' && trusted.has(`https://${origin.slice('http://'.length)}`)) return false;
  return true;
}

/**
 * The scheme the request arrived with, as the framework reports it: Express's `req.protocol` and
 * Fastify's `request.protocol` read `X-Forwarded-Proto` only from a trusted proxy (`trust proxy`,
 * `trustProxy`); otherwise TLS on the socket decides.
 */
function schemeOf(carrier: CookieCarrier): 'http' | 'https' {
  const req = carrier.target as { protocol?: unknown; socket?: { encrypted?: unknown }; raw?: { socket?: { encrypted?: unknown } } } | undefined;
  let protocol: unknown;
  try {
    protocol = req?.protocol;
  } catch {
    protocol = undefined;
  }
  if (typeof protocol === 'string') return protocol.toLowerCase().replace(/:$/, '') === 'https' ? 'https' : 'http';
  return req?.socket?.encrypted === true || req?.raw?.socket?.encrypted === true ? 'https' : 'http';
}

/**
 * The CSRF check of a request authenticated by the access cookie: nothing for safe methods; else the origin
 * and the session's token in the CSRF header. Throws `csrf_failed`.
 */
export function checkCsrfFor(carrier: CookieCarrier, sessionId: string | undefined, options: ResolvedCookieOptions): void {
  if (isSafeMethod(carrier)) return;
  checkOrigin(carrier, options);
  if (sessionId === undefined) throw csrfFailed('no_session');
  const token = headerOf(carrier, options.csrfHeader);
  if (token === undefined || token === '') throw csrfFailed('csrf_token_missing');
  if (!csrfTokenMatches(token, sessionId, options.csrfKeys)) throw csrfFailed('csrf_token_mismatch');
}
