import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { cookiesOf, appendSetCookie, serializeCookie } from '../cookies/http-cookies.js';
import type { Carrier } from '../call/carrier.js';
import type { ThrottleLimit } from './login-throttle.options.js';

/**
 * `loginThrottle.deviceCookie` (OWASP's device cookies): after a successful login from a browser, the response
 * sets a signed cookie naming that device and the account it logged in to. A later login to the same account
 * that presents it is a known device: it skips the per-IP, per-account-and-IP and per-account limits (what
 * others at its address, or an attacker of its account, use up) and is counted per device instead (`perDevice`).
 * A device over `perDevice` is treated as any other client until its window ends. `false` turns it off.
 */
export interface DeviceCookieOptions {
  /** ['__Host-nest-auth-device', or 'nest-auth-device' with `secure: false`]. */
  name?: string;
  /** How long a device stays known after its last successful login, in days [365]. */
  maxAgeDays?: number;
  /** Failed logins one known device may make before it is treated as unknown [10 per 900 s]. */
  perDevice?: ThrottleLimit;
  /** The cookie's `Secure` attribute [true; browsers accept it from http://localhost]. */
  secure?: boolean;
}

export interface ResolvedDeviceCookieOptions {
  name: string;
  maxAgeSeconds: number;
  perDevice: ThrottleLimit;
  secure: boolean;
}

export const DEVICE_COOKIE_DEFAULTS = { maxAgeDays: 365, perDevice: { limit: 10, windowSeconds: 900 } } as const;

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
