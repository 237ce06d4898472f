import type { CookieJar } from '../cookies/cookie-jar.js';
import type { CookieCarrier } from '../cookies/http-cookies.js';
import { AuthError } from '../errors/auth-error.js';

/** An access token that came in the access cookie: authenticated like a bearer token, then CSRF-checked. */
export interface CookieCredential {
  kind: 'cookie';
  token: string;
}

/**
 * The credential source of the cookie transport. The guard asks it only when the request carried no
 * `Authorization` (or `jwt.header`) header and no API key: a header always wins over the cookie, which the
 * browser attaches on its own. Throws `token_invalid` for a value no token can be.
 */
export function readCookieCredential(carrier: CookieCarrier, jar: CookieJar): CookieCredential | undefined {
  const token = jar.accessTokenOf(carrier);
  if (token === undefined) return undefined;
  if (/[\s,;]/.test(token)) throw new AuthError('token_invalid', 'Malformed access cookie');
  return { kind: 'cookie', token };
}

/** The same, as a source object for the credential pipeline: `cookieCredentialSource(jar).read(carrier)`. */
export function cookieCredentialSource(jar: CookieJar): { read(carrier: CookieCarrier): CookieCredential | undefined } {
  return { read: (carrier) => readCookieCredential(carrier, jar) };
}
