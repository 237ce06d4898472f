/** The password-check queue (src/login): a bounded number of checks at once, the rest wait or are refused. */
import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { ConcurrencyLimit } from '../../../src/login/concurrency-limit.js';

describe('the password-check queue', () => {
  const deferred = () => {
    let resolve!: (v: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    return { promise, resolve };
  };

  test('runs at most `max` at once, queues `maxQueued`, refuses beyond with auth_busy', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueued: 1, retryAfterSeconds: 1 });
    const first = deferred();
    const started: number[] = [];
    const a = limit.run(() => (started.push(1), first.promise));
    const b = limit.run(async () => (started.push(2), true));
    await expect(limit.run(async () => true)).rejects.toMatchObject({ code: 'auth_busy', retryAfterSeconds: 1 });
    expect(started).toEqual([1]);
    first.resolve(true);
    await expect(a).resolves.toBe(true);
    await expect(b).resolves.toBe(true);
    expect(started).toEqual([1, 2]);
  });

  test('a waiter whose client has gone leaves the queue and never runs', async () => {
    const limit = new ConcurrencyLimit({ max: 1, maxQueued: 4 });
    const first = deferred();
    const a = limit.run(() => first.promise);
    const gone = new AbortController();
    let ran = false;
    const b = limit.run(async () => ((ran = true), true), { signal: gone.signal });
    gone.abort();
    await expect(b).rejects.toBeDefined();
    first.resolve(true);
    await a;
    expect(ran).toBe(false);
  });
});
