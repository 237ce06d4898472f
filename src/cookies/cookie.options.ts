import { AuthConfigError } from '../errors/auth-error.js';
import { deriveKey, signingKeyMaterials, type SigningKeySource } from '../key-derivation/derive-key.js';
import { bool, check, group, oneOf, parseOption, secretBytes, z } from '../option-schema/option-schema.js';

/** RFC 6265 §4.1.1 cookie-name: an RFC 7230 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 path-value without `;`, and no characters a header cannot carry. */
const PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;
const HOSTNAME = /^\.?(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const RESERVED_HEADERS = ['cookie', 'authorization', 'origin', 'host', 'content-type'];

const cookieName = () => check<string>((v) => typeof v === 'string' && TOKEN.test(v), 'must be a cookie name (RFC 6265 token characters)');
const notAnOrigin = (v: unknown) => typeof v !== 'string' || normalizeOrigin(v) === undefined;

/** `cookies` (API.md "Names reserved"): the one declaration its type (`CookiesOptions`) and its validation come from. */
export const cookiesSchema = group({
  enabled: bool(),
  accessToken: group({ name: cookieName().optional() }).optional(),
  /** `path`: the refresh route, the only path the refresh cookie is sent to ['/auth/refresh']. */
  refreshToken: group({
    name: cookieName().optional(),
    path: check<string>((v) => typeof v === 'string' && PATH.test(v), 'must be a path that starts with "/"')
      .refine((v) => v !== '/', 'must be the refresh route, not "/": the refresh token would travel with every request')
      .optional(),
  }).optional(),
  /** Share the cookies with subdomains. Without it the cookies are host-only and take the `__Host-` prefix. */
  domain: check<string>(
    (v) => typeof v === 'string' && HOSTNAME.test(v) && (v.replace(/^\./, '').includes('.') || v === 'localhost'),
    'must be a host name such as "example.com" (no scheme, port or path)',
  ).optional(),
  /** [true]. Browsers accept Secure cookies from http://localhost. */
  secure: bool().optional(),
  /** ['lax'] */
  sameSite: oneOf(
    ['lax', 'strict'],
    "must be 'lax' or 'strict' ('none' would send the session with every cross-site request: use bearer tokens for a cross-site client)",
  ).optional(),
  /**
   * Whether `login()`/`refresh()` still return the tokens in the body when they set the cookies.
   * 'auto' [default]: not to a request a browser sent (it carries `Sec-Fetch-Site` or `Origin`), so a script
   * injected into the page can never read the refresh token; to every other client (mobile, CLI, server).
   */
  tokensInBody: oneOf(['auto', 'always', 'never'], "must be 'auto', 'always' or 'never'").optional(),
  csrf: group({
    /** Non-httpOnly cookie the page reads the CSRF token from ['__Host-csrf', or '__Secure-csrf' with a domain]. */
    cookie: cookieName().optional(),
    /** Header the page sends it back in ['x-csrf-token']. */
    header: check<string>((v) => typeof v === 'string' && TOKEN.test(v), 'must be a header name')
      .refine((v) => !RESERVED_HEADERS.includes(v.toLowerCase()), { error: (i) => `cannot be "${String(i.input).toLowerCase()}"` })
      .optional(),
    /** Origins other than the app's own allowed to make state-changing requests with the cookies (`https://app.example.com`). */
    trustedOrigins: z
      .custom<string[]>((v) => Array.isArray(v) && !v.some(notAnOrigin), {
        // The option named is the array (not the entry's index); the message quotes the entry.
        error: (issue) =>
          Array.isArray(issue.input)
            ? `${JSON.stringify(issue.input.find(notAnOrigin))} is not an origin such as "https://app.example.com" (no path, no wildcard)`
            : 'must be an array of origins',
      })
      .optional(),
    /** HMAC key of the CSRF tokens, 32+ bytes. Without it, one is derived from the JWT signing keys (HKDF). */
    secret: secretBytes(32).optional(),
  }).optional(),
});

/** `cookies` as the app gives it. */
export type CookiesOptions = z.input<typeof cookiesSchema>;

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
export interface JwtKeyMaterial extends SigningKeySource {
  keys?: SigningKeySource[];
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

/**
 * Validates `cookies` (with `cookiesSchema`) and fills the defaults. Throws `AuthConfigError('cookies.x', …)` at boot.
 * `jwt` gives the key material the CSRF HMAC key is derived from when `cookies.csrf.secret` is absent.
 */
export function resolveCookieOptions(raw: unknown, jwt?: JwtKeyMaterial): ResolvedCookieOptions {
  if (raw === undefined) return DISABLED;
  const given = parseOption(cookiesSchema, raw, 'cookies');
  const access = given.accessToken ?? {};
  const refresh = given.refreshToken ?? {};
  const csrf = given.csrf ?? {};
  const secure = given.secure ?? true;
  const domain = given.domain?.replace(/^\./, '').toLowerCase();

  // Prefixed defaults where the flags allow them: `__Host-` pins a cookie to this host, Path=/ and Secure;
  // `__Secure-` at least proves it was set over HTTPS.
  const hostPrefix = secure && domain === undefined ? '__Host-' : secure ? '__Secure-' : '';
  const securePrefix = secure ? '__Secure-' : '';
  const specs = {
    access: { name: access.name ?? `${hostPrefix}access`, path: '/' },
    refresh: { name: refresh.name ?? `${securePrefix}refresh`, path: refresh.path ?? DEFAULT_REFRESH_PATH },
    csrfCookie: { name: csrf.cookie ?? `${hostPrefix}csrf`, path: '/' },
  };
  const optionOf = { access: 'cookies.accessToken.name', refresh: 'cookies.refreshToken.name', csrfCookie: 'cookies.csrf.cookie' };
  for (const key of ['access', 'refresh', 'csrfCookie'] as const) {
    checkPrefix(specs[key], optionOf[key], secure, domain);
  }
  const names = new Set([specs.access.name, specs.refresh.name, specs.csrfCookie.name]);
  if (names.size !== 3) throw new AuthConfigError('cookies', 'the access, refresh and CSRF cookies need three different names');

  return {
    enabled: given.enabled,
    ...specs,
    domain,
    secure,
    sameSite: given.sameSite ?? 'lax',
    tokensInBody: given.tokensInBody ?? 'auto',
    csrfHeader: csrf.header?.toLowerCase() ?? DEFAULT_CSRF_HEADER,
    trustedOrigins: new Set((csrf.trustedOrigins ?? []).map((origin) => normalizeOrigin(origin)!)),
    csrfKeys: given.enabled ? resolveCsrfKeys(csrf.secret, jwt) : [],
  };
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

/** The CSRF HMAC keys: from `cookies.csrf.secret`, else from every JWT signing key (the first signs), each through HKDF. */
function resolveCsrfKeys(secret: string | Buffer | undefined, jwt: JwtKeyMaterial | undefined): Buffer[] {
  if (secret !== undefined) return [deriveKey(Buffer.from(secret), 'csrf')];
  const materials = signingKeyMaterials(jwt);
  if (materials.length === 0) {
    throw new AuthConfigError('cookies.csrf.secret', 'is required when the JWT options hold no secret or private key to derive it from');
  }
  return materials.map((material) => deriveKey(material, 'csrf'));
}
