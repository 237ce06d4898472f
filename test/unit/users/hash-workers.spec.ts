/**
 * The default hasher on its own worker threads (src/users/hash-workers.ts): real threads, real argon2 and bcrypt.
 * The pool's internals (thread ids, terminate) are reached through the module, not the package's exports.
 */
import { describe, expect, test } from '@jest/globals';
import { hashSync as bcryptHashSync } from '@node-rs/bcrypt';
import { pbkdf2, pbkdf2Sync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Argon2PasswordHasher } from '../../../src/index.js';
import { HashWorkerError, HashWorkerPool, hashWorkerPool } from '../../../src/users/hash-workers.js';

const linux = process.platform === 'linux';
// Skipped off Linux only: these tests read the worker threads' niceness from /proc, which only Linux has.
const onLinux = linux ? test : test.skip;

/** Per thread of this process: niceness (field 19 of /proc/self/task/<tid>/stat) and CPU ticks (utime + stime). */
function threads(): Map<number, { nice: number; ticks: number }> {
  const out = new Map<number, { nice: number; ticks: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // The name (field 2) may hold spaces and parentheses: count fields after its closing one.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { nice: Number(rest[16]), ticks: Number(rest[11]) + Number(rest[12]) });
    } catch {
      // the thread ended while we read
    }
  }
  return out;
}

/** The thread (other than the main one) that burned the most CPU while `work` ran, with its niceness. */
async function busiestThreadDuring(work: () => Promise<unknown>): Promise<{ tid: number; nice: number; ticks: number }> {
  const before = threads();
  await work();
  const after = threads();
  let best = { tid: 0, nice: NaN, ticks: -1 };
  for (const [tid, t] of after) {
    if (tid === process.pid) continue;
    const ticks = t.ticks - (before.get(tid)?.ticks ?? 0);
    if (ticks > best.ticks) best = { tid, nice: t.nice, ticks };
  }
  return best;
}

describe('Argon2PasswordHasher on its hash workers', () => {
  const hasher = new Argon2PasswordHasher();

  test('hash and verify round trip; a wrong password, a malformed hash and non-strings are false', async () => {
    const hashed = await hasher.hash('correct horse');
    expect(hashed).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(hasher.needsRehash(hashed)).toBe(false);
    expect(await hasher.verify(hashed, 'correct horse')).toBe(true);
    expect(await hasher.verify(hashed, 'correct horsE')).toBe(false);
    expect(await hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$garbage', 'correct horse')).toBe(false);
    expect(await hasher.verify('not a hash', 'correct horse')).toBe(false);
    expect(await hasher.verify(undefined as unknown as string, 'correct horse')).toBe(false);
    expect(await hasher.verify(hashed, { toString: () => 'correct horse' } as unknown as string)).toBe(false);
    // The worker is still there and serves the next call.
    expect(await hasher.verify(hashed, 'correct horse')).toBe(true);
  });

  test('bcrypt hashes ($2a$, $2b$, $2y$) are verified on the workers', async () => {
    const b = bcryptHashSync('tr0ub4dor', 4);
    for (const variant of ['$2a$', '$2b$', '$2y$']) {
      const hashed = variant + b.slice(4);
      expect(await hasher.verify(hashed, 'tr0ub4dor')).toBe(true);
      expect(await hasher.verify(hashed, 'tr0ub4dor!')).toBe(false);
    }
  });

  test('concurrent calls all complete, on at most availableParallelism() workers', async () => {
    const hashed = await hasher.hash('pw');
    const n = 3 * availableParallelism() + 1;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => hasher.verify(hashed, i % 2 ? 'pw' : 'no')));
    expect(results).toEqual(Array.from({ length: n }, (_, i) => i % 2 === 1));
    expect(hashWorkerPool(19).size).toBeLessThanOrEqual(availableParallelism());
  });

  test("a verify completes while libuv's thread pool is saturated by long pbkdf2 calls", async () => {
    const normal = new Argon2PasswordHasher({ priority: 'normal' });
    const hashed = await normal.hash('pw'); // the worker is up before libuv's pool fills
    // Calibrate: each pbkdf2 should take about 2 s alone, so the pool stays full for well over that.
    const t0 = performance.now();
    pbkdf2Sync('x', 'salt', 20_000, 32, 'sha512');
    const iterations = Math.ceil((20_000 * 2000) / Math.max(1, performance.now() - t0));
    const poolSize = Math.max(4, Number(process.env.UV_THREADPOOL_SIZE) || 4);
    let pbkdf2Done = 0;
    const saturating = Array.from(
      { length: poolSize },
      () =>
        new Promise<void>((resolve, reject) =>
          pbkdf2('x', 'salt', iterations, 32, 'sha512', (err) => (err ? reject(err) : resolve(void pbkdf2Done++))),
        ),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(await normal.verify(hashed, 'pw')).toBe(true);
    expect(pbkdf2Done).toBe(0);
    await Promise.all(saturating);
  }, 60_000);

  onLinux('the hashing runs on a thread at niceness 19; the event loop thread keeps its own', async () => {
    const slow = new Argon2PasswordHasher({ timeCost: 40 });
    const busiest = await busiestThreadDuring(() => slow.hash('pw'));
    expect(busiest.ticks).toBeGreaterThan(0);
    expect(busiest.nice).toBe(19);
    expect(threads().get(process.pid)!.nice).toBe(0);
    const pool = hashWorkerPool(19);
    expect(pool.threadIds()).toContain(busiest.tid);
    for (const tid of pool.threadIds()) expect(threads().get(tid)?.nice).toBe(19);
  });

  onLinux("priority 'normal' leaves the hashing threads at the process's niceness", async () => {
    const slow = new Argon2PasswordHasher({ timeCost: 40, priority: 'normal' });
    const busiest = await busiestThreadDuring(() => slow.hash('pw'));
    expect(busiest.nice).toBe(0);
    expect(hashWorkerPool(null).threadIds()).toContain(busiest.tid);
  });

  test('an invalid priority throws, naming the option', () => {
    for (const priority of ['low', 'Background', 19, null, 'toString']) {
      expect(() => new Argon2PasswordHasher({ priority: priority as 'normal' })).toThrow(/priority/);
    }
  });

  test('a worker killed under a task fails that task (hash and verify reject, never hang); the next call works', async () => {
    const slow = new Argon2PasswordHasher({ timeCost: 100 });
    const hashed = await hasher.hash('pw');
    const slowHash = await slow.hash('pw');
    const pool = hashWorkerPool(19);
    const hashing = slow.hash('pw');
    const verifying = slow.verify(slowHash, 'pw');
    await new Promise((r) => setTimeout(r, 30));
    await pool.terminate();
    await expect(hashing).rejects.toThrow(HashWorkerError);
    await expect(hashing).rejects.toMatchObject({ code: 'worker_exited' });
    await expect(verifying).rejects.toMatchObject({ code: 'worker_exited' });
    // No password or hash in the message.
    await hashing.catch((err: Error) => expect(err.message).not.toContain('pw'));
    expect(await hasher.verify(hashed, 'pw')).toBe(true);
  }, 60_000);
});

describe('HashWorkerPool', () => {
  const options = { algorithm: 2, memoryCost: 1024, timeCost: 1, parallelism: 1 };

  test('beyond its cap, tasks wait their turn in FIFO order', async () => {
    const pool = new HashWorkerPool(null, 1);
    const order: number[] = [];
    await Promise.all(Array.from({ length: 5 }, (_, i) => pool.run({ op: 'hash', plain: `p${i}`, options }).then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(pool.size).toBe(1);
    await pool.terminate();
  });

  test('a task waiting behind a killed worker runs on a fresh one', async () => {
    const pool = new HashWorkerPool(null, 1);
    const killed = pool.run({ op: 'hash', plain: 'a', options: { ...options, timeCost: 400 } });
    const waiting = pool.run<string>({ op: 'hash', plain: 'b', options });
    await new Promise((r) => setTimeout(r, 30));
    await pool.terminate();
    await expect(killed).rejects.toMatchObject({ code: 'worker_exited' });
    await expect(waiting).resolves.toMatch(/^\$argon2id\$/);
    expect(pool.size).toBe(1);
    await pool.terminate();
  });

  test('idle workers exit after the idle time', async () => {
    const pool = new HashWorkerPool(null, 2, 100);
    await Promise.all([pool.run({ op: 'hash', plain: 'a', options }), pool.run({ op: 'hash', plain: 'b', options })]);
    expect(pool.size).toBe(2);
    await new Promise((r) => setTimeout(r, 400));
    expect(pool.size).toBe(0);
    // and the pool starts again on the next call
    await expect(pool.run({ op: 'hash', plain: 'c', options })).resolves.toMatch(/^\$argon2id\$/);
    await pool.terminate();
  });

  test('an error in the worker comes back without the inputs', async () => {
    const pool = new HashWorkerPool(null, 1);
    const err = await pool.run({ op: 'hash', plain: 'hunter2', options: { ...options, memoryCost: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HashWorkerError);
    expect((err as HashWorkerError).code).toBe('failed');
    expect((err as Error).message).not.toContain('hunter2');
    await pool.terminate();
  });
});
