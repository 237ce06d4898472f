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

/** `$2a$`, `$2b$`, `$2y$` (PHP's name for 2b) with a two-digit cost, 22 characters of salt and 31 of hash. */
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/;

type BcryptVerify = (password: string, hash: string) => Promise<boolean>;
let bcryptVerify: Promise<BcryptVerify> | undefined;

/** @node-rs/bcrypt is loaded the first time a bcrypt hash shows up: an argon2-only user base never pays for it. */
function loadBcrypt(): Promise<BcryptVerify> {
  bcryptVerify ??= import('@node-rs/bcrypt').then((m) => {
    const mod = m as { verify?: BcryptVerify; default?: { verify: BcryptVerify } };
    return (mod.verify ?? mod.default!.verify) as BcryptVerify;
  });
  return bcryptVerify;
}

/**
 * argon2id through @node-rs/argon2. Hashing and verifying run on libuv's
 * thread pool, so a login never blocks the event loop of the other requests.
 * It also verifies bcrypt hashes (`$2a$`/`$2b$`/`$2y$`, through @node-rs/bcrypt)
 * and reports them, like argon2 hashes with weaker parameters, as needing a
 * rehash: a user base moves to argon2id as people log in.
 */
export class Argon2PasswordHasher implements PasswordHasher {
  private readonly options: Options & { memoryCost: number; timeCost: number; parallelism: number };

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
      if (typeof hashed === 'string' && BCRYPT.test(hashed)) {
        // bcrypt reads only the first 72 bytes of a password: the rehash to argon2id ends that too.
        return await (
          await loadBcrypt()
        )(plain, hashed);
      }
      return await verify(hashed, plain);
    } catch {
      // A malformed stored hash is a failed login, not a 500.
      return false;
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
