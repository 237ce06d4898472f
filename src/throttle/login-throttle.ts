import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AuditEmitter } from '../audit/audit.emitter.js';
import type { Caller } from '../call/caller.js';
import { boundStore } from '../persistence/bounded-store.js';
import { DeviceCookies } from './device-cookie.js';
import { Fingerprints, normaliseIp, shownAccount } from './fingerprints.js';
import type { ResolvedLoginThrottleOptions, ThrottleLimit } from './login-throttle.options.js';
import { TooManyAttemptsException } from './throttle-errors.js';
import type { ThrottleStore } from './throttle-store.js';
import { resolveThrottleStore } from './throttle-store.resolver.js';

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
  /** The address as the caller gave it, for audit events. */
  address?: string;
  /** The device id of a valid device cookie for this account. */
  device?: string;
}

/** A device to remember after a successful login (`loginThrottle.deviceCookie`): the cookie goes out with the answer. */
export interface RememberedDevice {
  /** The account fingerprint the cookie is bound to. */
  readonly account: string;
  /** The id of the device cookie the login presented (renewed), or undefined for a new device. */
  readonly id: string | undefined;
}

/**
 * One login that passed the throttle: its counts are already taken,
 * so concurrent attempts can never all slip under a limit together.
 * After the lookup, `bindAccount()` counts it on the account it resolved to as well.
 * Say how it ended: `failed()` keeps the counts, `succeeded()` gives them back
 * (and resets the account-and-IP and device counters), `abandoned()` gives them back when no
 * password was checked (queue full, client gone, store down).
 * Not counted (throttle off, `@SkipLoginThrottle()`): every method does nothing.
 */
export class LoginAttempt {
  private settled = false;

  /** `throttle` is null for an attempt that counted nothing (throttle off, or skipped). */
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

  /**
   * Never throws: it runs after the login is done, and must not take its result from the caller. Returns the
   * device to remember (a device cookie on the answer), when the throttle counted this login.
   */
  async succeeded(): Promise<RememberedDevice | undefined> {
    if (this.throttle === null || !this.settle()) return undefined;
    await this.throttle.giveBack(this.reserved, true).catch(() => undefined);
    return this.scope === undefined || !this.throttle.remembersDevices ? undefined : { account: this.scope.account, id: this.scope.device };
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
 * Failed-login limits (`loginThrottle`): counts attempts against the limits and answers allow or refuse, nothing
 * else. Over a limit it throws `TooManyAttemptsException` (429) at once; holding that answer (pacing), the
 * password-check queue and rehashing are the login's (src/login/). Everything about the call comes in as the
 * `Caller`: it can be used, and tested, without a request.
 */
@Injectable()
export class LoginThrottle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('AuthModule');
  private readonly fingerprints: Fingerprints;
  /** The store as resolved at init, every call bounded by `storeTimeoutMs` like the module's other stores. */
  private counters: ThrottleStore | undefined;
  private resolved: ThrottleStore | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(LOGIN_THROTTLE_OPTIONS) readonly options: ResolvedLoginThrottleOptions,
    private readonly devices: DeviceCookies,
    private readonly audit: AuditEmitter,
    private readonly moduleRef: ModuleRef,
  ) {
    this.fingerprints = new Fingerprints(options.fingerprintKey);
  }

  /** The counters' store (after init): the app's own, or the one `loginThrottle.store` names. */
  get store(): ThrottleStore {
    if (this.counters === undefined) throw new Error('the throttle store is used before the module has started');
    return this.counters;
  }

  async onModuleInit(): Promise<void> {
    this.resolved = await resolveThrottleStore(this.options, this.moduleRef);
    this.counters = boundStore(this.resolved, this.options.storeTimeoutMs, 'throttle');
    if (this.options.enabled && this.options.fingerprintKeyIsRandom && this.options.store !== 'memory') {
      this.logger.warn(
        'loginThrottle: no fingerprintKey and no JWT key to derive one from: instances sharing the throttle store will not count together',
      );
    }
    if (this.options.enabled && typeof this.resolved.purgeExpired === 'function') {
      const store = this.counters;
      this.purgeTimer = setInterval(() => void store.purgeExpired!().catch(() => undefined), 10 * 60_000);
      this.purgeTimer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    // A store the module built (a Redis client it connected) is closed here; the app's own is the app's.
    await (this.resolved as Partial<OnApplicationShutdown> | undefined)?.onApplicationShutdown?.();
  }

  /**
   * Before the user lookup: takes one count on each counter of this username and the caller's address.
   * Over a limit: 429 `too_many_attempts` (with its `Retry-After`), for real and unknown usernames alike, with no
   * lookup and no hashing (so nothing tells them apart). A known device (a valid `deviceCookie` for this account,
   * under its own limit) is counted per device only.
   */
  async check(username: string, caller: Caller): Promise<LoginAttempt> {
    if (!this.active(caller)) return notCounted();
    const account = this.fingerprints.account(username);
    const address = caller.address;
    const device = this.devices.deviceOf(caller.carrier, account);
    if (device !== undefined) {
      const deviceKey = `d:${this.fingerprints.of('d', device)}`;
      const taken = await this.take([['perDevice', this.devices.perDevice!, () => deviceKey]]);
      // Under its limit: what others at this address or against this account used up does not apply to it.
      if (taken.over === undefined) return new LoginAttempt(this, taken.taken, { account, device, address });
      // A known device that failed too often is any other client until its window ends.
    }
    const source = address === undefined ? undefined : this.fingerprints.of('i', normaliseIp(address));
    const scope: AttemptScope = { account, source, address };
    // Per IP first, account from everywhere last: attempts already refused for their IP never use up
    // the account's budget, so an attacker cannot cheaply lock a user out from every other place.
    // No address known (called outside a request, a message without one): only the account counts, so
    // every such caller does not share one "unknown" IP and lock each other out.
    if (source === undefined) return this.reserve([['perAccount', this.options.perAccount, () => `a:${account}`]], scope, address);
    // Keys are made when their counter is reached: a refusal per IP makes no account-and-IP key.
    return this.reserve(
      [
        ['perIp', this.options.perIp, () => `ip:${source}`],
        ['perAccountAndIp', this.options.perAccountAndIp, () => `ai:${this.fingerprints.of('ai', `${account}|${source}`)}`],
        ['perAccount', this.options.perAccount, () => `a:${account}`],
      ],
      scope,
      address,
    );
  }

  /** @internal See `LoginAttempt.bindAccount`: the same limits, on keys of the user id the lookup resolved. */
  async bindAccount(reserved: Reserved[], scope: AttemptScope, userId: string): Promise<boolean> {
    // A known device is counted per device, not per account (its account's lockout is what an attacker causes).
    if (scope.device !== undefined) return true;
    const user = this.fingerprints.of('uid', userId);
    const plan: Plan = [];
    if (scope.source !== undefined) {
      plan.push(['perAccountAndIp', this.options.perAccountAndIp, () => `uai:${this.fingerprints.of('uai', `${user}|${scope.source!}`)}`]);
    }
    plan.push(['perAccount', this.options.perAccount, () => `ua:${user}`]);
    const { taken, over } = await this.take(plan);
    reserved.push(...taken);
    if (over === undefined) return true;
    this.audit.emit({
      type: 'login.throttled',
      username: shownAccount(scope.account),
      userId,
      ip: scope.address,
      reason: `${over}:resolved_account`,
    });
    return false;
  }

  /**
   * After `refresh()` refused a token (401): counts it against the caller's address; over `refreshPerIp` the
   * answer is 429 `too_many_attempts` instead. Counted after the token was checked, never before: a valid
   * refresh token is never refused because others at its address (a NAT, an untrusted proxy) failed.
   */
  async refreshFailed(caller: Caller): Promise<void> {
    const ip = caller.address;
    if (!this.active(caller) || ip === undefined) return;
    await this.reserve([['refreshPerIp', this.options.refreshPerIp, () => `r:${this.fingerprints.of('i', normaliseIp(ip))}`]], undefined, ip);
  }

  /** `loginThrottle.deviceCookie` is on: a successful login names its device, to be remembered with the answer. */
  get remembersDevices(): boolean {
    return this.devices.perDevice !== undefined;
  }

  /** The fingerprint of a username's account (the key its counters are named by). */
  usernameFingerprint(username: string): string {
    return this.fingerprints.account(username);
  }

  /** A username as every login audit event shows it (`fp:…`): `login.failed` and `login.throttled` match. */
  shownUsername(username: unknown): string {
    return this.fingerprints.shown(username);
  }

  /** @internal */
  async giveBack(reserved: readonly Reserved[], success: boolean): Promise<void> {
    const store = this.store;
    await Promise.all(
      reserved.map(({ name, key }) =>
        (success && (name === 'perAccountAndIp' || name === 'perDevice') ? store.reset(key) : store.release(key)).catch(() => undefined),
      ),
    );
  }

  private active(caller: Caller): boolean {
    return this.options.enabled && !caller.skipLoginThrottle;
  }

  /** Takes one count on each counter of the plan, in order, up to the first over its limit (which keeps its count). */
  private async take(plan: Plan): Promise<{ taken: Reserved[]; over?: CounterName; retryAfter?: number }> {
    const taken: Reserved[] = [];
    for (const [name, limit, keyOf] of plan) {
      if (!limit) continue;
      const key = keyOf();
      const hit = await this.store.hit(key, limit.windowSeconds * 1000).catch(async (err: unknown) => {
        await this.giveBack(taken, false);
        throw err;
      });
      if (hit.count > limit.limit) return { taken, over: name, retryAfter: Math.max(1, Math.ceil((hit.resetAt - Date.now()) / 1000)) };
      taken.push({ name, key });
    }
    return { taken };
  }

  private async reserve(plan: Plan, scope: AttemptScope | undefined, address: string | undefined): Promise<LoginAttempt> {
    const { taken, over, retryAfter } = await this.take(plan);
    if (over !== undefined) {
      // This attempt is refused: the counts it took on the other counters go back.
      await this.giveBack(taken, false);
      this.audit.emit({
        type: 'login.throttled',
        ...(scope ? { username: shownAccount(scope.account) } : {}),
        ip: address,
        reason: over,
      });
      throw new TooManyAttemptsException(retryAfter!, over);
    }
    return new LoginAttempt(this, taken, scope);
  }
}
