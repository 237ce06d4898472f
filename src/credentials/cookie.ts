import type { CookieJar } from '../cookies/cookie-jar.js';
import type { CookieCarrier } from '../cookies/http-cookies.js';
import { AuthError } from '../errors/auth-error.js';
import type { Carrier } from '../call/carrier.js';
import type { CredentialSource } from './credential.js';

/** An access token that came in the access cookie: authenticated like a bearer token, then CSRF-checked. */
export interface CookieCredential {
  kind: 'cookie';
  token: string;
}

/** The access cookie of an HTTP call, or undefined. Throws `token_invalid` for a value no token can be. */
export function readCookieCredential(carrier: CookieCarrier, jar: CookieJar): CookieCredential | undefined {
  const token = jar.accessTokenOf(carrier);
  if (token === undefined) return undefined;
  if (/[\s,;]/.test(token)) throw new AuthError('token_invalid', 'malformed_access_cookie');
  return { kind: 'cookie', token };
}

/**
 * The cookie transport as a credential source. It stands aside when the call carries a credential header
 * (`headerNames`: the token header and the API-key header): a header always wins over the cookie, which the
 * browser attaches on its own, so the two are never "ambiguous credentials".
 */
export function cookieCredentialSource(jar: CookieJar, headerNames: readonly string[]): CredentialSource {
  return {
    read(carrier: Carrier) {
      const headers = carrier.headers;
      for (let i = 0; i < headerNames.length; i++) {
        const value = headers?.[headerNames[i]];
        if (value !== undefined && value !== '') return undefined;
      }
      return readCookieCredential(carrier, jar);
    },
  };
}
