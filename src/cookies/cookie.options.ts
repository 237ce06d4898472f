import { createPrivateKey, createSecretKey, hkdfSync, KeyObject } from 'node:crypto';
import { AuthConfigError } from '../errors/auth-error.js';

/** `cookies` as the app gives it (API.md "Names reserved"). */
export interface CookiesOptions {
  enabled: boolean;
  accessToken?: { name?: string };
  /** `path`: the refresh route, the only path the refresh cookie is sent to ['/auth/refresh']. */
  refreshToken?: { name?: string; path?: string };
  /** Share the cookies with subdomains. Without it the cookies are host-only and take the `__Host-` prefix. */
  domain?: string;
  /** [true]. Browsers accept Secure cookies from http://localhost. */
  secure?: boolean;
  /** ['lax'] */
  sameSite?: 'lax' | 'strict';
  /**
   * Whether `login()`/`refresh()` still return the tokens in the body when they set the cookies.
   * 'auto' [default]: not to a request a browser sent (it carries `Sec-Fetch-Site` or `Origin`), so a script
   * injected into the page can never read the refresh token; to every other client (mobile, CLI, server).
   */
  tokensInBody?: 'auto' | 'always' | 'never';
  csrf?: {
    /** Non-httpOnly cookie the page reads the CSRF token from ['__Host-csrf', or '__Secure-csrf' with a domain]. */
    cookie?: string;
    /** Header the page sends it back in ['x-csrf-token']. */
    header?: string;
    /** Origins other than the app's own allowed to make state-changing requests with the cookies (`https://app.example.com`). */
    trustedOrigins?: string[];
    /** HMAC key of the CSRF tokens, 32+ bytes. Without it, one is derived from the JWT signing keys (HKDF). */
    secret?: string | Buffer;
  };
}

export interface CookieSpec {
  name: string;
  path: string;
}

/** `cookies` after validation and defaults. */
export interface ResolvedCookieOptions {
  enabled: boolean;
  access: CookieSpec;
  refresh: CookieSpec;
  csrfCookie: CookieSpec;
  domain?: string;
  secure: boolean;
  sameSite: 'lax' | 'strict';
  tokensInBody: 'auto' | 'always' | 'never';
  csrfHeader: string;
  /** Normalized `scheme://host[:port]`, lower case, default ports dropped. */
  trustedOrigins: ReadonlySet<string>;
  /** HMAC keys: the first signs, any verifies (so a JWT key rotation does not void live pages' tokens). */
  csrfKeys: Buffer[];
}

/** The JWT key material the CSRF key is derived from when `cookies.csrf.secret` is not given. */
export interface JwtKeyMaterial {
  secret?: unknown;
  privateKey?: unknown;
  keys?: Array<{ secret?: unknown; privateKey?: unknown }>;
}

export const DEFAULT_REFRESH_PATH = '/auth/refresh';
export const DEFAULT_CSRF_HEADER = 'x-csrf-token';
const DISABLED: ResolvedCookieOptions = Object.freeze({
  enabled: false,
  access: { name: '', path: '/' },
  refresh: { name: '', path: DEFAULT_REFRESH_PATH },
  csrfCookie: { name: '', path: '/' },
  secure: true,
  sameSite: 'lax',
  tokensInBody: 'always',
  csrfHeader: DEFAULT_CSRF_HEADER,
  trustedOrigins: new Set<string>(),
  csrfKeys: [],
}) as ResolvedCookieOptions;

const TOP = ['enabled', 'accessToken', 'refreshToken', 'domain', 'secure', 'sameSite', 'tokensInBody', 'csrf'];
/** RFC 6265 §4.1.1 cookie-name: an RFC 7230 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 path-value without `;`, and no characters a header cannot carry. */
const PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;
const HOSTNAME = /^\.?(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const CSRF_INFO = '@democrai/nest-auth csrf v1';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKnown(value: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(value)) if (!known.includes(key)) throw new AuthConfigError(prefix + key, 'unknown option');
}

function section(value: unknown, option: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new AuthConfigError(option, 'must be an object');
  onlyKnown(value, known, option + '.');
  return value;
}

/**
 * Validates `cookies` and fills the defaults. Throws `AuthConfigError('cookies.x', …)` at boot.
 * `jwt` gives the key material the CSRF HMAC key is derived from when `cookies.csrf.secret` is absent.
 */
export function resolveCookieOptions(raw: unknown, jwt?: JwtKeyMaterial): ResolvedCookieOptions {
  if (raw === undefined) return DISABLED;
  if (!isObject(raw)) throw new AuthConfigError('cookies', 'must be an object');
  onlyKnown(raw, TOP, 'cookies.');
  if (typeof raw.enabled !== 'boolean') throw new AuthConfigError('cookies.enabled', 'must be a boolean');
  const access = section(raw.accessToken, 'cookies.accessToken', ['name']);
  const refresh = section(raw.refreshToken, 'cookies.refreshToken', ['name', 'path']);
  const csrf = section(raw.csrf, 'cookies.csrf', ['cookie', 'header', 'trustedOrigins', 'secret']);

  if (raw.secure !== undefined && typeof raw.secure !== 'boolean') throw new AuthConfigError('cookies.secure', 'must be a boolean');
  const secure = raw.secure ?? true;
  const sameSite = raw.sameSite ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict') {
    throw new AuthConfigError(
      'cookies.sameSite',
      "must be 'lax' or 'strict' ('none' would send the session with every cross-site request: use bearer tokens for a cross-site client)",
    );
  }
  const tokensInBody = raw.tokensInBody ?? 'auto';
  if (tokensInBody !== 'auto' && tokensInBody !== 'always' && tokensInBody !== 'never') {
    throw new AuthConfigError('cookies.tokensInBody', "must be 'auto', 'always' or 'never'");
  }
  const domain = resolveDomain(raw.domain);

  // Prefixed defaults where the flags allow them: `__Host-` pins a cookie to this host, Path=/ and Secure;
  // `__Secure-` at least proves it was set over HTTPS.
  const hostPrefix = secure && domain === undefined ? '__Host-' : secure ? '__Secure-' : '';
  const securePrefix = secure ? '__Secure-' : '';
  const refreshPath = resolvePath(refresh.path, 'cookies.refreshToken.path');
  const specs = {
    access: { name: cookieName(access.name, 'cookies.accessToken.name', `${hostPrefix}access`), path: '/' },
    refresh: { name: cookieName(refresh.name, 'cookies.refreshToken.name', `${securePrefix}refresh`), path: refreshPath },
    csrfCookie: { name: cookieName(csrf.cookie, 'cookies.csrf.cookie', `${hostPrefix}csrf`), path: '/' },
  };
  const optionOf = { access: 'cookies.accessToken.name', refresh: 'cookies.refreshToken.name', csrfCookie: 'cookies.csrf.cookie' };
  for (const key of ['access', 'refresh', 'csrfCookie'] as const) {
    checkPrefix(specs[key], optionOf[key], secure, domain);
  }
  const names = new Set([specs.access.name, specs.refresh.name, specs.csrfCookie.name]);
  if (names.size !== 3) throw new AuthConfigError('cookies', 'the access, refresh and CSRF cookies need three different names');

  let csrfHeader = DEFAULT_CSRF_HEADER;
  if (csrf.header !== undefined) {
    if (typeof csrf.header !== 'string' || !TOKEN.test(csrf.header)) throw new AuthConfigError('cookies.csrf.header', 'must be a header name');
    csrfHeader = csrf.header.toLowerCase();
    if (['cookie', 'authorization', 'origin', 'host', 'content-type'].includes(csrfHeader)) {
      throw new AuthConfigError('cookies.csrf.header', `cannot be "${csrfHeader}"`);
    }
  }

  return {
    enabled: raw.enabled,
    ...specs,
    domain,
    secure,
    sameSite,
    tokensInBody,
    csrfHeader,
    trustedOrigins: resolveOrigins(csrf.trustedOrigins),
    csrfKeys: raw.enabled ? resolveCsrfKeys(csrf.secret, jwt) : [],
  };
}

function cookieName(value: unknown, option: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !TOKEN.test(value)) throw new AuthConfigError(option, 'must be a cookie name (RFC 6265 token characters)');
  return value;
}

function checkPrefix(spec: CookieSpec, option: string, secure: boolean, domain: string | undefined): void {
  // Browsers match the prefixes case-insensitively (RFC 6265bis §4.1.3), so a wrongly used one must fail here, not in the browser.
  const lower = spec.name.toLowerCase();
  if (lower.startsWith('__host-')) {
    if (!secure) throw new AuthConfigError(option, 'a __Host- cookie must be Secure: set cookies.secure to true or rename it');
    if (domain !== undefined) throw new AuthConfigError(option, 'a __Host- cookie cannot carry a Domain: drop cookies.domain or use __Secure-');
    if (spec.path !== '/') {
      throw new AuthConfigError(option, 'a __Host- cookie must have Path=/, and the refresh cookie is sent only to its route: use __Secure-');
    }
  } else if (lower.startsWith('__secure-') && !secure) {
    throw new AuthConfigError(option, 'a __Secure- cookie must be Secure: set cookies.secure to true or rename it');
  }
}

function resolvePath(value: unknown, option: string): string {
  if (value === undefined) return DEFAULT_REFRESH_PATH;
  if (typeof value !== 'string' || !PATH.test(value)) throw new AuthConfigError(option, 'must be a path that starts with "/"');
  if (value === '/') throw new AuthConfigError(option, 'must be the refresh route, not "/": the refresh token would travel with every request');
  return value;
}

function resolveDomain(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !HOSTNAME.test(value) || (!value.replace(/^\./, '').includes('.') && value !== 'localhost')) {
    throw new AuthConfigError('cookies.domain', 'must be a host name such as "example.com" (no scheme, port or path)');
  }
  return value.replace(/^\./, '').toLowerCase();
}

function resolveOrigins(value: unknown): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new AuthConfigError('cookies.csrf.trustedOrigins', 'must be an array of origins');
  const out = new Set<string>();
  for (const entry of value) {
    const origin = typeof entry === 'string' ? normalizeOrigin(entry) : undefined;
    if (origin === undefined) {
      throw new AuthConfigError(
        'cookies.csrf.trustedOrigins',
        `${JSON.stringify(entry)} is not an origin such as "https://app.example.com" (no path, no wildcard)`,
      );
    }
    out.add(origin);
  }
  return out;
}

/** `scheme://host[:port]` in its serialized form (WHATWG URL), or undefined when `value` is not exactly an http(s) origin. */
export function normalizeOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return undefined;
  if (value.endsWith('/') || value.includes('*')) return undefined;
  return url.origin;
}

function resolveCsrfKeys(secret: unknown, jwt: JwtKeyMaterial | undefined): Buffer[] {
  if (secret !== undefined) {
    if (!((typeof secret === 'string' || Buffer.isBuffer(secret)) && Buffer.byteLength(secret) >= 32)) {
      throw new AuthConfigError('cookies.csrf.secret', 'must be a string or Buffer of at least 32 bytes');
    }
    return [derive(Buffer.from(secret))];
  }
  const materials: Buffer[] = [];
  const add = (source: { secret?: unknown; privateKey?: unknown }) => {
    const m = keyMaterial(source);
    if (m) materials.push(m);
  };
  for (const key of jwt?.keys ?? []) add(key);
  if (jwt) add(jwt);
  if (materials.length === 0) {
    throw new AuthConfigError('cookies.csrf.secret', 'is required when the JWT options hold no secret or private key to derive it from');
  }
  return materials.map(derive);
}

function keyMaterial(source: { secret?: unknown; privateKey?: unknown }): Buffer | undefined {
  try {
    if (source.secret !== undefined) {
      const s = source.secret;
      if (s instanceof KeyObject) return s.export();
      if (typeof s === 'string' || Buffer.isBuffer(s)) return createSecretKey(Buffer.from(s)).export();
    }
    if (source.privateKey !== undefined) {
      return createPrivateKey(source.privateKey as Parameters<typeof createPrivateKey>[0]).export({ type: 'pkcs8', format: 'der' });
    }
  } catch {
    // A key the JWT validation refuses anyway: it names the option there.
  }
  return undefined;
}

/** HKDF, so the CSRF key reveals nothing about the signing key it comes from. */
function derive(ikm: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), CSRF_INFO, 32));
}
