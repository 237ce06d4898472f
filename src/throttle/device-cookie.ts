import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { cookiesOf, appendSetCookie, serializeCookie } from '../cookies/http-cookies.js';
import type { Carrier } from '../call/carrier.js';
import type { ResolvedDeviceCookieOptions, ThrottleLimit } from './login-throttle.options.js';

export type { DeviceCookieOptions, ResolvedDeviceCookieOptions } from './login-throttle.options.js';
export { DEVICE_COOKIE_DEFAULTS } from './login-throttle.options.js';

/** An HTTP request with a response to set cookies on: a route's, or a GraphQL query's over HTTP (not graphql-ws). */
function overHttp(carrier: Carrier): boolean {
  return carrier.type === 'http' || (carrier.type === 'graphql' && carrier.response !== undefined && carrier.response !== null);
}

/** A browser marks its requests with Fetch Metadata (`Sec-Fetch-Site`), and every POST with `Origin`. */
function fromBrowser(carrier: Carrier): boolean {
  const h = carrier.headers;
  return h?.['sec-fetch-site'] !== undefined || h?.origin !== undefined;
}

/**
 * The cookie's value is `<device id>.<expiry, epoch s>.<MAC>`; the MAC (HMAC-SHA256 under the fingerprint key)
 * covers the id, the expiry and the account's fingerprint, so a cookie proves the device logged in to that account
 * and names nothing readable. Nothing is stored server-side but the per-device failure counter.
 */
export class DeviceCookies {
  constructor(
    private readonly options: ResolvedDeviceCookieOptions | null,
    private readonly key: Buffer,
  ) {}

  get perDevice(): ThrottleLimit | undefined {
    return this.options?.perDevice;
  }

  /** The device id of a valid, unexpired cookie this login presents for `account` (a username fingerprint). */
  deviceOf(carrier: Carrier | undefined, account: string): string | undefined {
    if (this.options === null || carrier === undefined || !overHttp(carrier)) return undefined;
    const value = cookiesOf(carrier)[this.options.name];
    if (typeof value !== 'string' || value.length > 200) return undefined;
    const [id, exp, mac, extra] = value.split('.');
    if (extra !== undefined || !id || !exp || !mac || !/^\d{1,12}$/.test(exp)) return undefined;
    if (Number(exp) * 1000 <= Date.now()) return undefined;
    const expected = Buffer.from(this.mac(id, exp, account));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
  }

  /** After a successful login from a browser over HTTP: (re)sets the cookie, a fresh expiry, the same device id when it had one. */
  issue(carrier: Carrier | undefined, account: string, deviceId?: string): void {
    if (this.options === null || carrier === undefined || !overHttp(carrier) || !fromBrowser(carrier)) return;
    const id = deviceId ?? randomBytes(16).toString('base64url');
    const exp = String(Math.floor(Date.now() / 1000) + this.options.maxAgeSeconds);
    appendSetCookie(carrier.response, [
      serializeCookie(this.options.name, `${id}.${exp}.${this.mac(id, exp, account)}`, {
        httpOnly: true,
        secure: this.options.secure,
        sameSite: 'strict',
        path: '/',
        maxAge: this.options.maxAgeSeconds,
      }),
    ]);
  }

  private mac(id: string, exp: string, account: string): string {
    return createHmac('sha256', this.key).update(`device\0${id}\0${exp}\0${account}`).digest('base64url').slice(0, 32);
  }
}
