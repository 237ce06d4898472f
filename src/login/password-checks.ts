import { Logger } from '@nestjs/common';
import type { Carrier } from '../call/carrier.js';
import { AuthError } from '../errors/auth-error.js';
import { AuthBusyException } from '../throttle/throttle-errors.js';
import { HashWorkerError } from '../users/hash-workers.js';
import type { AuthUserRecord, PasswordHasher, UserProvider } from '../users/user.types.js';
import { clientSignal } from './client-signal.js';
import { ConcurrencyLimit, type ConcurrencyLimitOptions } from './concurrency-limit.js';

/**
 * The password work of logins: every check and every rehash in one bounded queue (`loginThrottle.passwordChecks`).
 * argon2id is CPU- and memory-hard by design: a flood of logins must not take every core from the requests
 * already authenticated. Beyond the queue a check is refused at once (`AuthBusyException`, 503 `auth_busy`);
 * holding that refusal is the caller's (pacing).
 */
export class PasswordChecks {
  private readonly logger = new Logger('AuthModule');
  private readonly queue: ConcurrencyLimit;

  constructor(limit: ConcurrencyLimitOptions) {
    this.queue = new ConcurrencyLimit(limit);
  }

  /** No slot free and no room to wait: a check now would be refused. */
  get full(): boolean {
    return this.queue.full;
  }

  /** Every slot taken: a check finishing now had others behind it. */
  get saturated(): boolean {
    return this.queue.saturated;
  }

  /** The refusal of a full queue. */
  busy(): AuthBusyException {
    return this.queue.busy();
  }

  /**
   * The password check, in the queue. A client that has closed its connection (`carrier`'s socket) is dropped
   * before hashing (`ClientGoneError`). A hashing thread that died under the check is 503 `auth_unavailable`:
   * not a wrong password, and not the client's fault.
   */
  async verify(hasher: PasswordHasher, hash: string, password: string, carrier: Carrier | undefined): Promise<boolean> {
    const client = clientSignal(carrier?.target);
    try {
      return await this.queue.run(() => hasher.verify(hash, password), { signal: client?.signal });
    } catch (err) {
      if (err instanceof HashWorkerError) throw new AuthError('auth_unavailable', 'password_hasher_failed');
      throw err;
    } finally {
      client?.dispose();
    }
  }

  /**
   * After a successful login: when the hasher says the stored hash is older (other parameters, another algorithm
   * such as bcrypt), stores a new one through `UserProvider.updatePasswordHash`. Never fails the login; a failure
   * is logged with the user id and the error's name only (a database error may echo the hash).
   */
  async rehashIfNeeded(hasher: PasswordHasher, users: UserProvider, user: AuthUserRecord, password: string): Promise<boolean> {
    if (typeof hasher.needsRehash !== 'function' || typeof users.updatePasswordHash !== 'function') return false;
    try {
      if (!hasher.needsRehash(user.passwordHash)) return false;
      // In the queue like any hashing; a full queue skips it: the next login tries again.
      const fresh = await this.queue.run(() => hasher.hash(password));
      await users.updatePasswordHash(String(user.id), fresh);
      return true;
    } catch (err) {
      const name = err instanceof Error ? err.name : typeof err;
      this.logger.warn(`password rehash for user ${String(user.id)} was not stored (${name}); the login went ahead`);
      return false;
    }
  }
}
