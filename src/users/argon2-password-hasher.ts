import { hash, verify, type Options } from '@node-rs/argon2';
import type { PasswordHasher } from './user.types.js';

export interface Argon2Params {
  /** KiB [19456, OWASP's minimum for argon2id]. */
  memoryCost?: number;
  /** Passes [2]. */
  timeCost?: number;
  /** Lanes [1]. */
  parallelism?: number;
}

/**
 * argon2id through @node-rs/argon2. Hashing and verifying run on libuv's
 * thread pool, so a login never blocks the event loop of the other requests.
 */
export class Argon2PasswordHasher implements PasswordHasher {
  private readonly options: Options;

  constructor(params: Argon2Params = {}) {
    this.options = {
      // Algorithm.Argon2id: a const enum, which isolated modules cannot read.
      algorithm: 2 as Options['algorithm'],
      memoryCost: params.memoryCost ?? 19456,
      timeCost: params.timeCost ?? 2,
      parallelism: params.parallelism ?? 1,
    };
  }

  hash(plain: string): Promise<string> {
    return hash(plain, this.options);
  }

  async verify(hashed: string, plain: string): Promise<boolean> {
    try {
      return await verify(hashed, plain);
    } catch {
      // A malformed stored hash is a failed login, not a 500.
      return false;
    }
  }
}
