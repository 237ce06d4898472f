import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** What a hash worker does: argon2id hash/verify, or a bcrypt verify (`@node-rs/bcrypt`, from `module`, loaded on the first one). */
export type HashTask =
  | { op: 'hash'; plain: string; options: Record<string, number> }
  | { op: 'verify'; hash: string; plain: string }
  | { op: 'bcrypt-verify'; hash: string; plain: string; module: string };

/** A task the worker could not do, for the caller: never the password or the hash, only a code and a safe message. */
export class HashWorkerError extends Error {
  constructor(
    message: string,
    readonly code: 'failed' | 'worker_exited' | 'unavailable',
  ) {
    super(message);
    this.name = 'HashWorkerError';
  }
}

/** A worker with nothing to do for this long exits: an app (or a test runner booting many) does not keep idle threads. */
const IDLE_MS = 30_000;

/*
 * The worker's code: a real file beside this module (plain JavaScript, so the same URL serves dist/, where the build
 * copies it, and src/ under ts-jest, where a .ts file cannot be given to `new Worker`). Resolved from this module's
 * URL, which is also what a CommonJS app that `require()`s the package gets (Node loads these ES modules for it).
 */
const WORKER_FILE = new URL('./hash-worker.js', import.meta.url);

interface Pending {
  task: HashTask;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  /** Linux thread id, once the worker has said it is ready. */
  tid: number | null;
  current: Pending | null;
  idle: NodeJS.Timeout | null;
  gone: boolean;
}

const resolver = createRequire(import.meta.url);
let argon2Path: string | undefined;
function argon2(): string {
  argon2Path ??= resolver.resolve('@node-rs/argon2');
  return argon2Path;
}

/** What a bcrypt hash needs and an app without one does not install: the message says how to get it. */
export const BCRYPT_MISSING = 'verifying a bcrypt hash needs the @node-rs/bcrypt package installed (npm install @node-rs/bcrypt)';

let bcryptPath: string | undefined;
/**
 * Where @node-rs/bcrypt is, looked up when the first bcrypt hash is met (an optional peer: only apps migrating
 * bcrypt hashes install it); a HashWorkerError ('unavailable', with the install hint) when it is not installed.
 * A failed look-up is not kept: installing the package needs a restart anyway, but the next hash looks again.
 */
export function bcryptModule(): string {
  if (bcryptPath === undefined) {
    try {
      bcryptPath = resolver.resolve('@node-rs/bcrypt');
    } catch {
      throw new HashWorkerError(BCRYPT_MISSING, 'unavailable');
    }
  }
  return bcryptPath;
}

/** Niceness is per thread only on Linux; elsewhere (on Windows it is the whole process's class) it is left alone. */
const PER_THREAD_PRIORITY = process.platform === 'linux';

/**
 * Password hashing on worker threads of its own, off libuv's pool (which fs, dns, zlib and crypto of the whole app
 * share) and, on Linux, at a lower priority than the event loop. Started lazily; one worker more whenever all are
 * busy, up to `max` (the callers are already bounded by the password-check queue); beyond it tasks wait in FIFO
 * order. Idle workers do not keep the process alive and exit after `IDLE_MS`; a worker that dies fails its task
 * and is replaced by the next call.
 */
export class HashWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private warned = false;

  constructor(
    /** Niceness the workers set on their own thread; `null` leaves it as inherited. */
    private readonly niceness: number | null,
    private readonly max: number = Math.max(1, availableParallelism()),
    private readonly idleMs: number = IDLE_MS,
  ) {}

  run<T>(task: HashTask): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { task, resolve: resolve as (v: unknown) => void, reject };
      const free = this.slots.find((s) => !s.current && !s.gone);
      if (free) this.start(free, pending);
      else if (this.slots.length < this.max) {
        let slot: Slot;
        try {
          slot = this.spawn();
        } catch (err) {
          reject(new HashWorkerError(`could not start a password hashing worker: ${(err as Error).message}`, 'unavailable'));
          return;
        }
        this.start(slot, pending);
      } else this.waiting.push(pending);
    });
  }

  /** Workers alive now. */
  get size(): number {
    return this.slots.length;
  }

  /** Linux thread ids of the workers that have started (tests read their niceness). */
  threadIds(): number[] {
    return this.slots.flatMap((s) => (s.tid === null ? [] : [s.tid]));
  }

  /** Stops every worker; their tasks fail. For tests (a crash on purpose) and for an orderly shutdown. */
  async terminate(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_FILE, {
      workerData: { argon2: argon2(), niceness: PER_THREAD_PRIORITY ? this.niceness : null },
      // The inputs are strings: a small heap is plenty, and the argon2 memory is native, outside it.
      resourceLimits: { maxOldGenerationSizeMb: 32 },
    });
    worker.unref();
    const slot: Slot = { worker, tid: null, current: null, idle: null, gone: false };
    this.slots.push(slot);
    worker.on('message', (m: { ready?: true; tid?: number | null; warn?: string; ok?: boolean; value?: unknown; message?: string }) => {
      if (m.ready) {
        slot.tid = m.tid ?? null;
        return;
      }
      if (m.warn !== undefined) {
        if (!this.warned) process.emitWarning(m.warn, 'HashWorkerPool');
        this.warned = true;
        return;
      }
      const done = slot.current;
      if (!done) return;
      slot.current = null;
      if (m.ok) done.resolve(m.value);
      else done.reject(new HashWorkerError(`password hashing failed: ${m.message}`, 'failed'));
      this.next(slot);
    });
    const lost = (reason: string) => {
      if (slot.gone) return;
      slot.gone = true;
      if (slot.idle) clearTimeout(slot.idle);
      this.slots.splice(this.slots.indexOf(slot), 1);
      const task = slot.current;
      slot.current = null;
      task?.reject(new HashWorkerError(`password hashing worker ${reason}`, 'worker_exited'));
      // A task that waited for a turn gets a fresh worker instead of this one.
      const waiter = this.waiting.shift();
      if (waiter) {
        try {
          this.start(this.spawn(), waiter);
        } catch (err) {
          waiter.reject(new HashWorkerError(`could not start a password hashing worker: ${(err as Error).message}`, 'unavailable'));
        }
      }
    };
    // Only the error's code or name: a worker's uncaught error could quote what it was working on.
    worker.on('error', (err: Error & { code?: string }) => lost(`failed (${err?.code ?? err?.name ?? 'error'})`));
    worker.on('messageerror', () => lost('could not read a message'));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    return slot;
  }

  private start(slot: Slot, pending: Pending): void {
    if (slot.idle) clearTimeout(slot.idle);
    slot.idle = null;
    slot.current = pending;
    // A task in flight keeps the process alive, as libuv's pool does for an async hash; an idle worker does not.
    slot.worker.ref();
    try {
      slot.worker.postMessage(pending.task);
    } catch {
      // Not cloneable (not a string): the worker never saw it, and stays free for the next task.
      slot.current = null;
      pending.reject(new HashWorkerError('password hashing failed: input is not a string', 'failed'));
      this.next(slot);
    }
  }

  private next(slot: Slot): void {
    const waiter = this.waiting.shift();
    if (waiter) return this.start(slot, waiter);
    slot.worker.unref();
    slot.idle = setTimeout(() => {
      if (slot.current || slot.gone) return;
      slot.gone = true;
      this.slots.splice(this.slots.indexOf(slot), 1);
      void slot.worker.terminate();
    }, this.idleMs);
    slot.idle.unref();
  }
}

const pools = new Map<number | null, HashWorkerPool>();

/** The process-wide pool for one niceness (`null`: as inherited). */
export function hashWorkerPool(niceness: number | null): HashWorkerPool {
  let pool = pools.get(niceness);
  if (!pool) pools.set(niceness, (pool = new HashWorkerPool(niceness)));
  return pool;
}
