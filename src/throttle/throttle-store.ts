/**
 * Failed-login counters, shared by every instance of the app that uses the
 * same store. Fixed windows: a counter opens its window at its first hit and
 * is forgotten when the window ends. One atomic round trip per hit (SQL upsert,
 * Redis script), one row or key per counter, and an attacker who keeps
 * hammering cannot stretch a lockout past the window that is already running.
 */
export interface ThrottleHit {
  /** The counter's value after this hit, this one included. */
  count: number;
  /** When the window ends (epoch ms): the counter is back to zero then. */
  resetAt: number;
}

export interface ThrottleStore {
  /** Adds one to `key` atomically, opening a window of `windowMs` when none is running. */
  hit(key: string, windowMs: number): Promise<ThrottleHit>;
  /** Takes one back from a running window (never below zero); nothing when the window has ended. */
  release(key: string): Promise<void>;
  /** Forgets the counter. */
  reset(key: string): Promise<void>;
  /** Deletes counters whose window has ended; returns how many. Stores that expire by themselves may omit it. */
  purgeExpired?(now?: Date): Promise<number>;
}

/** Injection token of the `ThrottleStore` the login throttle counts in. */
export const THROTTLE_STORE = Symbol('THROTTLE_STORE');
