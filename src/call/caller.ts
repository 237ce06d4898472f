import type { Carrier } from './carrier.js';

/**
 * Who a service call is made for, read once by `AuthService` from the running call and passed down: the
 * services below it never read the ambient request context, so they can be called (and tested) without a
 * request, and a call made for one client can never pick up another's.
 */
export interface Caller {
  /**
   * The call's carrier, to read from: its login `Origin`, its refresh and device cookies, its socket (a login
   * waiting for a password check is dropped when that closes), the response a refusal is held on. Undefined
   * outside any call (a job, a CLI, a seed script).
   */
  readonly carrier: Carrier | undefined;
  /**
   * The address the login throttle counts the call by: the HTTP request's `ip` (the app's `trust proxy`), a
   * WebSocket's upgrade request's, or what `loginThrottle.clientAddress` gives. Undefined: only per-account limits.
   */
  readonly address: string | undefined;
  /** The address and user agent recorded on a new session and in audit events. */
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  /** `@SkipLoginThrottle()` on the route being served: the app throttles its `login()` itself. */
  readonly skipLoginThrottle: boolean;
  /**
   * The running code serves this call (its handler, before its answer is complete, not a stream's pipeline, not
   * a handler that cannot reach AuthService): only then does anything (cookies, `Retry-After`) go on its response.
   */
  readonly own: boolean;
}

/** A call made outside any request: nothing to read, nowhere to write, only per-account limits. */
export const NO_CALLER: Caller = Object.freeze({
  carrier: undefined,
  address: undefined,
  ip: undefined,
  userAgent: undefined,
  skipLoginThrottle: false,
  own: false,
});
