/**
 * At most `max` password checks run at once; the rest wait their turn.
 * argon2id is CPU- and memory-hard by design (19 MiB each): a flood of logins
 * must not take every core, and the memory, from the requests already
 * authenticated. The wait is in a queue, never a busy loop.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
