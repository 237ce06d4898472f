import type { ThrottleHit, ThrottleStore } from './throttle-store.js';

interface Counter {
  hits: number;
  resetAt: number;
}

/** Counters in this process only: for tests, demos and single-instance apps. */
export class InMemoryThrottleStore implements ThrottleStore {
  private readonly counters = new Map<string, Counter>();
  /** Size at which a hit first sweeps ended windows, so random usernames cannot grow the map without bound. */
  private sweepAt = 10_000;

  async hit(key: string, windowMs: number): Promise<ThrottleHit> {
    const now = Date.now();
    let counter = this.counters.get(key);
    if (!counter || counter.resetAt <= now) {
      if (!counter && this.counters.size >= this.sweepAt) this.sweep(now);
      counter = { hits: 0, resetAt: now + windowMs };
      this.counters.set(key, counter);
    }
    counter.hits++;
    return { count: counter.hits, resetAt: counter.resetAt };
  }

  async release(key: string): Promise<void> {
    const counter = this.counters.get(key);
    if (counter && counter.resetAt > Date.now() && counter.hits > 0) counter.hits--;
  }

  async reset(key: string): Promise<void> {
    this.counters.delete(key);
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    return this.sweep(now.getTime());
  }

  private sweep(now: number): number {
    let removed = 0;
    for (const [key, counter] of this.counters) {
      if (counter.resetAt <= now) {
        this.counters.delete(key);
        removed++;
      }
    }
    // Still full of live counters: sweep again only once it has doubled.
    this.sweepAt = Math.max(10_000, this.counters.size * 2);
    return removed;
  }
}
