import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createHmac } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { currentContext } from '../context/request-context.js';
import { AuthError } from '../errors/auth-error.js';
import { toHttpException } from '../errors/http-exception.js';
import { ConcurrencyLimit } from '../login/concurrency-limit.js';
import { AuthUsers } from '../users/auth-users.js';
import { HashWorkerError } from '../users/hash-workers.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { ClientAddress } from './client-address.js';
import { clientSignal } from './client-signal.js';
import { DeviceCookies } from './device-cookie.js';
import type { ResolvedLoginThrottleOptions, ThrottleLimit } from './login-throttle.options.js';
import { RefusalPacing } from './refusal-pacing.js';
import { AuthBusyException, ClientGoneError, TooManyAttemptsException } from './throttle-errors.js';
import { THROTTLE_STORE, type ThrottleStore } from './throttle-store.js';

/** Injection token of the resolved `loginThrottle` options. */
export const LOGIN_THROTTLE_OPTIONS = Symbol('LOGIN_THROTTLE_OPTIONS');

type CounterName = 'perAccountAndIp' | 'perAccount' | 'perIp' | 'refreshPerIp' | 'perDevice';

interface Reserved {
  name: CounterName;
  key: string;
}

/** Counters to take, in order: the limit (null: off) and the key, made only when its counter is reached. */
type Plan = Array<[CounterName, ThrottleLimit | null, () => string]>;

/** What a login's counts are about: the typed account's fingerprint, the address and the known device, if any. */
interface AttemptScope {
  /** Fingerprint of the typed, normalised username. */
  account: string;
  /** The fingerprint of the client's address (undefined: none known). */
  source?: string;
  /** The device id of a valid device cookie for this account. */
  device?: string;
}

/**
 * One login (or refresh) that passed the throttle: its counts are already taken,
 * so concurrent attempts can never all slip under a limit together.
 * After the lookup, `bindAccount()` counts it on the account it resolved to as well.
 * Say how it ended: `failed()` keeps the counts, `succeeded()` gives them back
 * (and resets the account-and-IP and device counters), `abandoned()` gives them back when no
 * password was checked (queue full, client gone, store down).
 * Not counted (throttle off, `@SkipLoginThrottle()`): every method does nothing.
 */
export class LoginAttempt {
  private settled = false;

  /** `throttle` is null for an attempt that counted nothing (throttle off, skipped, or no address for a refresh). */
  constructor(
    private readonly throttle: LoginThrottle | null,
    private readonly reserved: Reserved[],
    private readonly scope?: AttemptScope,
  ) {}

  /**
   * After the lookup found the user: counts this attempt on the account itself (its id), so that every spelling
   * the lookup resolves to it (`ALICE`, `álice` on an accent-insensitive collation) shares one budget. False when
   * that account is over a limit: the login must then fail like a wrong password, after the same work.
   */
  async bindAccount(userId: string): Promise<boolean> {
    if (this.throttle === null || this.scope === undefined) return true;
    return this.throttle.bindAccount(this.reserved, this.scope, userId);
  }

  async failed(): Promise<void> {
    this.settled = true;
  }

  /** Never throws: it runs after the login or the rotation is done, and must not take its result from the caller. */
  async succeeded(): Promise<void> {
    if (this.throttle === null || !this.settle()) return;
    await this.throttle.giveBack(this.reserved, true).catch(() => undefined);
    if (this.scope !== undefined) {
      try {
        this.throttle.rememberDevice(this.scope);
      } catch {
        // The login is done: a device cookie that could not be set must not take its result from the caller.
      }
    }
  }

  async abandoned(): Promise<void> {
    if (this.throttle !== null && this.settle()) await this.throttle.giveBack(this.reserved, false).catch(() => undefined);
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
export class LoginThrottle implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('AuthModule');
  private readonly checks: ConcurrencyLimit;
  /** @internal Held refusals and each client's backoff streak (this instance's, in memory). */
  readonly pacing: RefusalPacing;
  private readonly addresses: ClientAddress;
  private readonly devices: DeviceCookies;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(LOGIN_THROTTLE_OPTIONS) readonly options: ResolvedLoginThrottleOptions,
    @Inject(THROTTLE_STORE) private readonly store: ThrottleStore,
    private readonly users: AuthUsers,
    private readonly audit: AuditEmitter,
    @Optional() adapterHost?: HttpAdapterHost,
  ) {
    this.checks = new ConcurrencyLimit({
      max: options.passwordChecks.concurrency,
      maxQueued: options.passwordChecks.maxQueued,
      retryAfterSeconds: options.passwordChecks.retryAfterSeconds,
    });
    this.pacing = new RefusalPacing(options.pacingMs);
    this.addresses = new ClientAddress(options.clientAddress, adapterHost);
    this.devices = new DeviceCookies(options.deviceCookie, options.fingerprintKey);
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

  /** Before the HTTP server closes: held refusals are answered now, not at the end of their pause. */
  onModuleDestroy(): void {
    this.pacing.releaseAll();
  }

  onApplicationShutdown(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
  }

  /**
   * The address the throttle counts a call by: the HTTP request's `ip` (so `trust proxy` / `trustProxy` decide),
   * a WebSocket's upgrade request's through the same setting, or what `loginThrottle.clientAddress` gives.
   */
  clientAddress(carrier = currentContext()?.carrier): string | undefined {
    return this.addresses.of(carrier);
  }

  /**
   * Before the user lookup: takes one count on each counter of this username and IP.
   * Over a limit: 429 `too_many_attempts` with `Retry-After`, for real and unknown
   * usernames alike, with no lookup and no hashing (so nothing tells them apart).
   * A full password-check queue is 503 `auth_busy` first, before any counting: the
   * cheapest refusal, and the same for every username.
   * A known device (a valid `deviceCookie` for this account, under its own limit) is counted per device only.
   */
  async check(username: string, ip: string | undefined): Promise<LoginAttempt> {
    if (this.checks.full) return this.refuse(this.checks.busy());
    if (!this.active()) return notCounted();
    const account = this.fingerprint('u', normaliseUsername(username));
    const device = this.devices.deviceOf(currentContext()?.carrier, account);
    if (device !== undefined) {
      const deviceKey = `d:${this.fingerprint('d', device)}`;
      const taken = await this.take([['perDevice', this.devices.perDevice!, () => deviceKey]]);
      // Under its limit: what others at this address or against this account used up does not apply to it.
      if (taken.over === undefined) return new LoginAttempt(this, taken.taken, { account, device });
      // A known device that failed too often is any other client until its window ends.
    }
    const source = ip === undefined ? undefined : this.fingerprint('i', normaliseIp(ip));
    const scope: AttemptScope = { account, source };
    // Per IP first, account from everywhere last: attempts already refused for their IP never use up
    // the account's budget, so an attacker cannot cheaply lock a user out from every other place.
    // No address known (called outside a request, a message without one): only the account counts, so
    // every such caller does not share one "unknown" IP and lock each other out.
    if (source === undefined) return this.reserve([['perAccount', this.options.perAccount, () => `a:${account}`]], scope);
    // Keys are made when their counter is reached: a refusal per IP makes no account-and-IP key.
    return this.reserve(
      [
        ['perIp', this.options.perIp, () => `ip:${source}`],
        ['perAccountAndIp', this.options.perAccountAndIp, () => `ai:${this.fingerprint('ai', `${account}|${source}`)}`],
        ['perAccount', this.options.perAccount, () => `a:${account}`],
      ],
      scope,
    );
  }

  /** @internal See `LoginAttempt.bindAccount`: the same limits, on keys of the user id the lookup resolved. */
  async bindAccount(reserved: Reserved[], scope: AttemptScope, userId: string): Promise<boolean> {
    // A known device is counted per device, not per account (its account's lockout is what an attacker causes).
    if (scope.device !== undefined) return true;
    const user = this.fingerprint('uid', userId);
    const plan: Plan = [];
    if (scope.source !== undefined) {
      plan.push(['perAccountAndIp', this.options.perAccountAndIp, () => `uai:${this.fingerprint('uai', `${user}|${scope.source!}`)}`]);
    }
    plan.push(['perAccount', this.options.perAccount, () => `ua:${user}`]);
    const { taken, over } = await this.take(plan);
    reserved.push(...taken);
    if (over === undefined) return true;
    this.audit.emit({
      type: 'login.throttled',
      username: `fp:${scope.account.slice(0, 16)}`,
      userId,
      ip: this.clientAddress(),
      reason: `${over}:resolved_account`,
    });
    return false;
  }

  /** @internal After a successful login: the device cookie, set (or renewed) on a browser's HTTP response. */
  rememberDevice(scope: AttemptScope): void {
    this.devices.issue(currentContext()?.carrier, scope.account, scope.device);
  }

  /**
   * After `refresh()` refused a token (401): counts it against the caller's address; over `refreshPerIp` the
   * answer is 429 `too_many_attempts` instead (held like any refusal). Counted after the token was checked, never
   * before: a valid refresh token is never refused because others at its address (a NAT, an untrusted proxy) failed.
   */
  async refreshFailed(ip: string | undefined = this.clientAddress()): Promise<void> {
    if (!this.active() || ip === undefined) return;
    await this.reserve([['refreshPerIp', this.options.refreshPerIp, () => `r:${this.fingerprint('i', normaliseIp(ip))}`]]);
  }

  /**
   * The password check, in the bounded queue. Beyond the queue: 503 `auth_busy` with
   * `Retry-After`, with no hashing (held like every refusal). A client that has closed its connection is dropped before hashing.
   */
  async verifyPassword(verify: () => Promise<boolean>): Promise<boolean> {
    const carrier = currentContext()?.carrier;
    const client = clientSignal(carrier?.target);
    try {
      return await this.checks.run(verify, { signal: client?.signal });
    } catch (err) {
      // A client that has gone reads no answer: nothing to pace.
      if (err instanceof AuthBusyException && !(err instanceof ClientGoneError)) return this.refuse(err);
      // The hashing thread died under this check: not a wrong password, and not the client's fault.
      if (err instanceof HashWorkerError) throw toHttpException(new AuthError('auth_unavailable', 'password_hasher_failed'));
      throw err;
    } finally {
      client?.dispose();
    }
  }

  /**
   * After a failed login (wrong password, unknown or inactive user alike): while the password checks are all
   * taken, its answer is held like a refusal's (`pacingMs`), so that the place it freed goes to whoever comes
   * next, not to the same client re-sending at once. With no one waiting nothing is held.
   */
  async paceFailure(): Promise<void> {
    if (this.checks.saturated) await this.pacing.failure(currentContext()?.carrier);
  }

  /** A login from this address succeeded: its refusals back off from the start again. */
  forgive(ip: string | undefined): void {
    this.pacing.forgive(ip === undefined ? undefined : normaliseIp(ip));
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
        this.bounded(success && (name === 'perAccountAndIp' || name === 'perDevice') ? this.store.reset(key) : this.store.release(key)).catch(
          () => undefined,
        ),
      ),
    );
  }

  private active(): boolean {
    if (!this.options.enabled) return false;
    return currentContext()?.policy?.skipLoginThrottle !== true;
  }

  /** Takes one count on each counter of the plan, in order, up to the first over its limit (which keeps its count). */
  private async take(plan: Plan): Promise<{ taken: Reserved[]; over?: CounterName; retryAfter?: number }> {
    const taken: Reserved[] = [];
    for (const [name, limit, keyOf] of plan) {
      if (!limit) continue;
      const key = keyOf();
      const hit = await this.bounded(this.store.hit(key, limit.windowSeconds * 1000)).catch(async (err) => {
        await this.giveBack(taken, false);
        throw err;
      });
      if (hit.count > limit.limit) return { taken, over: name, retryAfter: Math.max(1, Math.ceil((hit.resetAt - Date.now()) / 1000)) };
      taken.push({ name, key });
    }
    return { taken };
  }

  private async reserve(plan: Plan, scope?: AttemptScope): Promise<LoginAttempt> {
    const { taken, over, retryAfter } = await this.take(plan);
    if (over !== undefined) {
      // This attempt is refused: the counts it took on the other counters go back.
      await this.giveBack(taken, false);
      this.audit.emit({
        type: 'login.throttled',
        ...(scope ? { username: `fp:${scope.account.slice(0, 16)}` } : {}),
        ip: this.clientAddress(),
        reason: over,
      });
      return this.refuse(new TooManyAttemptsException(retryAfter!, over));
    }
    return new LoginAttempt(this, taken, scope);
  }

  /**
   * Throws a 429/503 refusal after holding it (`pacingMs`, backed off for a client that re-sends before its
   * `Retry-After` ended; for a busy queue the `Retry-After` backs off with it). The client is its address, as the
   * counters see it: behind a proxy a connection carries many clients, so nothing is keyed by connection.
   */
  private async refuse(err: TooManyAttemptsException | AuthBusyException): Promise<never> {
    const busy = err instanceof AuthBusyException;
    const carrier = currentContext()?.carrier;
    const ip = this.clientAddress(carrier);
    const retryAfter = await this.pacing.refusal(carrier, ip === undefined ? undefined : normaliseIp(ip), err.retryAfterSeconds, busy);
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
