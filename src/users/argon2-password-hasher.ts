import { Logger } from '@nestjs/common';
import { bcryptModule, HashWorkerError, hashWorkerPool, type HashWorkerPool } from './hash-workers.js';
import type { PasswordHasher } from './user.types.js';

export interface Argon2Params {
  /** KiB [19456, OWASP's minimum for argon2id]. */
  memoryCost?: number;
  /** Passes [2]. */
  timeCost?: number;
  /** Lanes [1]. */
  parallelism?: number;
  /**
   * Scheduling priority of the hashing threads ['background']. `'background'`: niceness 19 on Linux, so under a
   * login flood the event loop and the other routes win the CPU; `'normal'`: the threads keep the process's
   * priority. Elsewhere than on Linux both leave the priority as it is.
   */
  priority?: 'background' | 'normal';
}

const PRIORITIES = { background: 19, normal: null } as const;

let missingBcryptLogged = false;

/** `$2a$`, `$2b$`, `$2y$` (PHP's name for 2b) with a two-digit cost, 22 characters of salt and 31 of hash. */
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/;

/**
 * argon2id through @node-rs/argon2, on worker threads of the module's own (src/users/hash-workers.ts), not on
 * libuv's pool, and at background priority: a login never blocks the event loop, and a flood of them does not take
 * the CPU from the requests already authenticated, nor libuv's threads from the app's fs, dns or zlib.
 * It also verifies bcrypt hashes (`$2a$`/`$2b$`/`$2y$`, through @node-rs/bcrypt, an optional peer looked up and
 * loaded on the first one) and
 * reports them, like argon2 hashes with weaker parameters, as needing a rehash: a user base moves to argon2id as
 * people log in.
 *
 * `verify` is false for a wrong password and for a malformed hash; when a hashing worker dies under a task, `hash`
 * and `verify` reject: a crash is not a wrong password, so `login()` answers 503 `auth_unavailable` without
 * counting a failed attempt.
 */
export class Argon2PasswordHasher implements PasswordHasher {
  private readonly options: { algorithm: number; memoryCost: number; timeCost: number; parallelism: number };
  private readonly pool: HashWorkerPool;

  constructor(params: Argon2Params = {}) {
    const priority = params.priority === undefined ? 'background' : params.priority;
    if (!Object.hasOwn(PRIORITIES, priority)) {
      throw new Error(`Argon2PasswordHasher: priority must be 'background' or 'normal', got ${JSON.stringify(priority)}`);
    }
    this.pool = hashWorkerPool(PRIORITIES[priority]);
    this.options = {
      // Algorithm.Argon2id: a const enum, which isolated modules cannot read.
      algorithm: 2,
      memoryCost: params.memoryCost ?? 19456,
      timeCost: params.timeCost ?? 2,
      parallelism: params.parallelism ?? 1,
    };
  }

  hash(plain: string): Promise<string> {
    return this.pool.run<string>({ op: 'hash', plain, options: this.options });
  }

  async verify(hashed: string, plain: string): Promise<boolean> {
    if (typeof hashed !== 'string' || typeof plain !== 'string') return false;
    try {
      // bcrypt reads only the first 72 bytes of a password: the rehash to argon2id ends that too.
      if (BCRYPT.test(hashed)) return await this.pool.run<boolean>({ op: 'bcrypt-verify', hash: hashed, plain, module: this.bcrypt() });
      return await this.pool.run<boolean>({ op: 'verify', hash: hashed, plain });
    } catch (err) {
      // A malformed stored hash is a failed login, not a 500; a dead worker is neither.
      if (err instanceof HashWorkerError && err.code === 'failed') return false;
      throw err;
    }
  }

  /**
   * @node-rs/bcrypt, an optional peer. Without it a bcrypt hash is not a wrong password: the check rejects (login
   * answers 503 `auth_unavailable`, no failed attempt counted) and the log says once which package to install.
   */
  private bcrypt(): string {
    try {
      return bcryptModule();
    } catch (err) {
      if (!missingBcryptLogged) new Logger('AuthModule').error((err as Error).message);
      missingBcryptLogged = true;
      throw err;
    }
  }

  /** Anything but argon2id with exactly these parameters (a bcrypt hash, argon2i, fewer KiB or passes) is rehashed. */
  needsRehash(hashed: string): boolean {
    const m = ARGON2.exec(hashed);
    if (!m) return true;
    const [, variant, version, memory, time, lanes] = m;
    return (
      variant !== 'argon2id' ||
      Number(version) !== 19 ||
      Number(memory) !== this.options.memoryCost ||
      Number(time) !== this.options.timeCost ||
      Number(lanes) !== this.options.parallelism
    );
  }
}
