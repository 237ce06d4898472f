import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { currentContext } from '../context/request-context.js';
import { AuthError } from '../errors/auth-error.js';
import { toHttpException } from '../errors/http-exception.js';
import { ConcurrencyLimit } from '../login/concurrency-limit.js';
import { clientOf } from '../sessions/client-of.js';
import { AuthUsers } from '../users/auth-users.js';
import { HashWorkerError } from '../users/hash-workers.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { clientSignal } from './client-signal.js';
import type { ResolvedLoginThrottleOptions, ThrottleLimit } from './login-throttle.options.js';
import { forgiveConnection, paceFailedLogin, paceRefusal } from './refusal-pacing.js';
import { AuthBusyException, ClientGoneError, TooManyAttemptsException } from './throttle-errors.js';
import { THROTTLE_STORE, type ThrottleStore } from './throttle-store.js';

/** Injection token of the resolved `loginThrottle` options. */
export const LOGIN_THROTTLE_OPTIONS = Symbol('LOGIN_THROTTLE_OPTIONS');

type CounterName = 'perAccountAndIp' | 'perAccount' | 'perIp' | 'refreshPerIp';

interface Reserved {
  name: CounterName;
  key: string;
}

/**
 * One login (or refresh) that passed the throttle: its counts are already taken,
 * so concurrent attempts can never all slip under a limit together.
 * Say how it ended: `failed()` keeps the counts, `succeeded()` gives them back
 * (and resets the account-and-IP counter), `abandoned()` gives them back when no
 * password was checked (queue full, client gone, store down).
 */
export class LoginAttempt {
  private settled = false;

  /** `throttle` is null for an attempt that counted nothing (throttle off, skipped, or no address for a refresh). */
  constructor(
    private readonly throttle: LoginThrottle | null,
    private readonly reserved: readonly Reserved[],
  ) {}

  async failed(): Promise<void> {
    this.settled = true;
  }

  /** Never throws: it runs after the login or the rotation is done, and must not take its result from the caller. */
  async succeeded(): Promise<void> {
    if (this.settle()) await this.throttle!.giveBack(this.reserved, true).catch(() => undefined);
  }

  async abandoned(): Promise<void> {
    if (this.settle()) await this.throttle!.giveBack(this.reserved, false).catch(() => undefined);
  }

  /** True once, and only when there are counts to give back. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return this.throttle !== null && this.reserved.length > 0;
  }
}

/** A fresh attempt each time: one shared object would be settled by its first caller and then act for every later one. */
function notCounted(): LoginAttempt {
  return new LoginAttempt(null, []);
}

/**
 * Failed-login limits (`loginThrottle`), the bounded password-check queue and
 * rehash on login. The login flow calls, in order: `check()` before the user
 * lookup, `verifyPassword()` for the hash check, then the attempt's
 * `failed()` / `succeeded()`, then `rehashIfNeeded()`.
 */
@Injectable()
export class LoginThrottle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AuthModule');
  private readonly checks: ConcurrencyLimit;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(LOGIN_THROTTLE_OPTIONS) readonly options: ResolvedLoginThrottleOptions,
    @Inject(THROTTLE_STORE) private readonly store: ThrottleStore,
    private readonly users: AuthUsers,
    private readonly audit: AuditEmitter,
  ) {
    this.checks = new ConcurrencyLimit({
      max: options.passwordChecks.concurrency,
      maxQueued: options.passwordChecks.maxQueued,
      retryAfterSeconds: options.passwordChecks.retryAfterSeconds,
    });
  }

  onModuleInit(): void {
    if (this.options.enabled && this.options.fingerprintKeyIsRandom && this.options.store !== 'memory') {
      this.logger.warn(
        'loginThrottle: no fingerprintKey and no JWT key to derive one from: instances sharing the throttle store will not count together',
      );
    }
    if (this.options.enabled && typeof this.store.purgeExpired === 'function') {
      this.purgeTimer = setInterval(() => void this.store.purgeExpired!().catch(() => undefined), 10 * 60_000);
      this.purgeTimer.unref();
    }
  }

  onApplicationShutdown(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
  }

  /**
   * Before the user lookup: takes one count on each counter of this username and IP.
   * Over a limit: 429 `too_many_attempts` with `Retry-After`, for real and unknown
   * usernames alike, with no lookup and no hashing (so nothing tells them apart).
   * A full password-check queue is 503 `auth_busy` first, before any counting: the
   * cheapest refusal, and the same for every username.
   */
  async check(username: string, ip: string | undefined): Promise<LoginAttempt> {
    if (this.checks.full) this.refuse(this.checks.busy());
    if (!this.active()) return notCounted();
    const account = this.fingerprint('u', normaliseUsername(username));
    // Per IP first, account from everywhere last: attempts already refused for their IP never use up
    // the account's budget, so an attacker cannot cheaply lock a user out from every other place.
    // No address known (called outside a request, or with requestContext: false): only the account counts, so
    // every such caller does not share one "unknown" IP and lock each other out.
    if (ip === undefined) return this.reserve([['perAccount', () => `a:${account}`]], { account });
    let source: string | undefined;
    const sourceOf = () => (source ??= this.fingerprint('i', normaliseIp(ip)));
    // Keys are made when their counter is reached: a refusal per IP makes no account-and-IP key.
    return this.reserve(
      [
        ['perIp', () => `ip:${sourceOf()}`],
        ['perAccountAndIp', () => `ai:${this.fingerprint('ai', `${account}|${sourceOf()}`)}`],
        ['perAccount', () => `a:${account}`],
      ],
      { account },
    );
  }

  /** Before `refresh()` verifies its token: invalid refresh tokens are bounded per IP. */
  async checkRefresh(ip: string | undefined): Promise<LoginAttempt> {
    if (!this.active() || ip === undefined) return notCounted();
    return this.reserve([['refreshPerIp', () => `r:${this.fingerprint('i', normaliseIp(ip))}`]], {});
  }

  /**
   * The password check, in the bounded queue. Beyond the queue: 503 `auth_busy` with
   * `Retry-After`, at once. A client that has closed its connection is dropped before hashing.
   */
  async verifyPassword(verify: () => Promise<boolean>): Promise<boolean> {
    const carrier = currentContext()?.carrier;
    const client = clientSignal(carrier?.target);
    const checked = () => {
      // Past the throttle and the queue: this connection's next refusal backs off from the start again.
      forgiveConnection(carrier);
      return verify();
    };
    try {
      return await this.checks.run(checked, { signal: client?.signal });
    } catch (err) {
      // A client that has gone reads no answer: nothing to pace.
      if (err instanceof AuthBusyException && !(err instanceof ClientGoneError)) this.refuse(err);
      // The hashing thread died under this check: not a wrong password, and not the client's fault.
      if (err instanceof HashWorkerError) throw toHttpException(new AuthError('auth_unavailable', 'password_hasher_failed'));
      throw err;
    } finally {
      client?.dispose();
    }
  }

  /**
   * After a failed login (wrong password, unknown or inactive user alike): while the password checks are all
   * taken, the connection is paced like a refusal (`pacingMs`), so that the place it freed goes to whoever comes
   * next, not to the same client re-sending at once. With no one waiting nothing is paced.
   */
  paceFailure(): void {
    if (this.options.pacingMs > 0 && this.checks.saturated) paceFailedLogin(currentContext()?.carrier, this.options.pacingMs);
  }

  /**
   * After a successful login: when the hasher says the stored hash is older (other
   * parameters, another algorithm such as bcrypt), stores a new one through
   * `UserProvider.updatePasswordHash`. Never fails the login; a failure is logged
   * with the user id and the error's name only (a database error may echo the hash).
   */
  async rehashIfNeeded(user: AuthUserRecord, password: string): Promise<boolean> {
    const hasher = this.users.hasher;
    const users = this.users.users;
    if (typeof hasher.needsRehash !== 'function' || typeof users.updatePasswordHash !== 'function') return false;
    try {
      if (!hasher.needsRehash(user.passwordHash)) return false;
      // In the queue like any hashing; a full queue skips it: the next login tries again.
      const fresh = await this.checks.run(() => hasher.hash(password));
      await users.updatePasswordHash(String(user.id), fresh);
      return true;
    } catch (err) {
      const name = err instanceof Error ? err.name : typeof err;
      this.logger.warn(`password rehash for user ${String(user.id)} was not stored (${name}); the login went ahead`);
      return false;
    }
  }

  /** The fingerprint of a username for audit events: keyed, so the raw text cannot be recovered by guessing offline. */
  usernameFingerprint(username: string): string {
    return this.fingerprint('u', normaliseUsername(username));
  }

  /** @internal */
  async giveBack(reserved: readonly Reserved[], success: boolean): Promise<void> {
    await Promise.all(
      reserved.map(({ name, key }) =>
        this.bounded(success && name === 'perAccountAndIp' ? this.store.reset(key) : this.store.release(key)).catch(() => undefined),
      ),
    );
  }

  private active(): boolean {
    if (!this.options.enabled) return false;
    return currentContext()?.policy?.skipLoginThrottle !== true;
  }

  private async reserve(plan: Array<[CounterName, () => string]>, audit: { account?: string }): Promise<LoginAttempt> {
    const taken: Reserved[] = [];
    for (const [name, keyOf] of plan) {
      const limit = this.options[name] as ThrottleLimit | null;
      if (!limit) continue;
      const key = keyOf();
      const hit = await this.bounded(this.store.hit(key, limit.windowSeconds * 1000)).catch(async (err) => {
        await this.giveBack(taken, false);
        throw err;
      });
      if (hit.count > limit.limit) {
        // This attempt is refused: the counts it took on the other counters go back.
        await this.giveBack(taken, false);
        const retryAfter = Math.max(1, Math.ceil((hit.resetAt - Date.now()) / 1000));
        this.audit.emit({
          type: 'login.throttled',
          ...(audit.account ? { username: `fp:${audit.account.slice(0, 16)}` } : {}),
          ip: clientOf(currentContext()?.carrier).ip,
          reason: name,
        });
        this.refuse(new TooManyAttemptsException(retryAfter, name));
      }
      taken.push({ name, key });
    }
    return new LoginAttempt(this, taken);
  }

  /**
   * Throws a 429/503 refusal, pacing the HTTP connection it goes out on (`pacingMs`, backed off for a client that
   * re-sends before its `Retry-After` ended; for a busy queue the `Retry-After` backs off with it).
   */
  private refuse(err: TooManyAttemptsException | AuthBusyException): never {
    const busy = err instanceof AuthBusyException;
    const retryAfter = paceRefusal(currentContext()?.carrier, this.options.pacingMs, err.retryAfterSeconds, busy);
    throw busy && retryAfter !== err.retryAfterSeconds ? new AuthBusyException(retryAfter, err.reason) : err;
  }

  /** Every store call settles within `storeTimeoutMs`: a slow or failing store is 503 `auth_unavailable`, never a hang. */
  private bounded<T>(call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('throttle store timed out')), this.options.storeTimeoutMs);
    });
    return Promise.race([call, timeout])
      .catch((err: unknown) => {
        if (err instanceof TooManyAttemptsException || err instanceof AuthBusyException) throw err;
        throw toHttpException(new AuthError('auth_unavailable', 'throttle_store_failed'));
      })
      .finally(() => clearTimeout(timer));
  }

  private fingerprint(domain: string, value: string): string {
    return createHmac('sha256', this.options.fingerprintKey).update(`${domain}\0${value}`).digest('base64url').slice(0, 32);
  }
}

/** Case and Unicode variants of one name count as one account. */
function normaliseUsername(username: string): string {
  return String(username).normalize('NFKC').trim().toLowerCase().slice(0, 256);
}

/** IPv4-mapped IPv6 as IPv4; other IPv6 by its /64, which one subscriber usually holds whole. */
function normaliseIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
