import { AuthBusyException, ClientGoneError } from '../throttle/throttle-errors.js';

export interface ConcurrencyLimitOptions {
  /** Checks that run at once. */
  max: number;
  /** Checks that may wait for a turn; one more is refused at once with 503 `auth_busy` [Infinity]. */
  maxQueued?: number;
  /** `Retry-After` of that refusal, in seconds [1]. */
  retryAfterSeconds?: number;
}

export interface RunOptions {
  /** Aborted when the client has gone: a waiting task leaves the queue and never runs. */
  signal?: AbortSignal;
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * At most `max` password checks run at once; at most `maxQueued` wait their
 * turn, and beyond that a check is refused at once (`AuthBusyException`, 503).
 * argon2id is CPU- and memory-hard by design (19 MiB each): a flood of logins
 * must not take every core, the memory, or minutes of queueing from the
 * requests already authenticated. The wait is in a queue, never a busy loop;
 * a waiter whose client has gone leaves the queue before any hashing.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private readonly max: number;
  private readonly maxQueued: number;
  private readonly retryAfterSeconds: number;

  constructor(options: number | ConcurrencyLimitOptions) {
    const o = typeof options === 'number' ? { max: options } : options;
    this.max = o.max;
    this.maxQueued = o.maxQueued ?? Infinity;
    this.retryAfterSeconds = o.retryAfterSeconds ?? 1;
  }

  /** Tasks waiting for a turn now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Every slot taken (after a release, because a waiter got it): a check finishing now had others behind it. */
  get saturated(): boolean {
    return this.running >= this.max;
  }

  /** No slot free and no room to wait: a `run` now would be refused. */
  get full(): boolean {
    return this.saturated && this.waiting.length >= this.maxQueued;
  }

  /** The refusal of a full queue. */
  busy(): AuthBusyException {
    return new AuthBusyException(this.retryAfterSeconds, 'password_check_queue_full');
  }

  async run<T>(task: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) throw new ClientGoneError();
    if (!this.take()) {
      if (this.waiting.length >= this.maxQueued) throw this.busy();
      await this.wait(signal);
    }
    // Here the task holds a slot: a free one it took, or one `release` handed over.
    if (signal?.aborted) {
      this.release();
      throw new ClientGoneError();
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new ClientGoneError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Hands the slot straight to the next waiter, so a newcomer cannot overtake the queue. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.running--;
  }

  /** Takes a slot when one is free; used by `run` before waiting. */
  private take(): boolean {
    if (this.running >= this.max) return false;
    this.running++;
    return true;
  }
}
