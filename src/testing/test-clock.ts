import type { AuthClock } from '../clock/auth-clock.js';

const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);

/**
 * A clock a test moves: it runs with real time plus an offset that `advance()`
 * adds to, so a test sees a token expire or a session end without sleeping.
 * `createTestApp` gives it to the module as its `clock` option. For the app's
 * own code that reads `Date`, `install()` makes it the process's `Date`
 * (`Date.now()` and `new Date()`) until `uninstall()`.
 */
export class TestClock implements AuthClock {
  private offsetMs = 0;
  private installs = 0;

  now(): number {
    return realNow() + this.offsetMs;
  }

  /** Moves time forward by `ms` milliseconds (negative moves it back). */
  advance(ms: number): this {
    if (!Number.isFinite(ms)) throw new TypeError('TestClock.advance(ms): ms must be a finite number');
    this.offsetMs += ms;
    return this;
  }

  advanceSeconds(seconds: number): this {
    return this.advance(seconds * 1000);
  }

  /** Jumps to `at` (time keeps running from there). */
  set(at: Date | number): this {
    this.offsetMs = (typeof at === 'number' ? at : at.getTime()) - realNow();
    return this;
  }

  /** Back to real time. */
  reset(): this {
    this.offsetMs = 0;
    return this;
  }

  /** Makes this clock the global `Date`. One clock at a time; installs of the same clock are counted. */
  install(): this {
    if (this.installs > 0) {
      this.installs++;
      return this;
    }
    if (globalThis.Date !== RealDate) throw new Error('TestClock.install(): another clock is installed; uninstall it first');
    const now = () => this.now();
    class ClockDate extends RealDate {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(now());
        else super(...(args as [string | number | Date]));
      }
      static override now(): number {
        return now();
      }
      // Dates made before the install (or by code holding the real Date) are still Dates.
      static override [Symbol.hasInstance](value: unknown): boolean {
        return value instanceof RealDate;
      }
    }
    globalThis.Date = ClockDate as DateConstructor;
    this.installs = 1;
    return this;
  }

  uninstall(): void {
    if (this.installs === 0) return;
    if (--this.installs === 0) globalThis.Date = RealDate;
  }
}
