import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { NO_CALLER, type Caller } from '../call/caller.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { AuthError } from '../errors/auth-error.js';
import { SessionService, type IssuedSession } from '../sessions/session.service.js';
import { normaliseIp } from '../throttle/fingerprints.js';
import { LOGIN_THROTTLE_OPTIONS, LoginThrottle, type RememberedDevice } from '../throttle/login-throttle.js';
import type { ResolvedLoginThrottleOptions } from '../throttle/login-throttle.options.js';
import { AuthBusyException, ClientGoneError, TooManyAttemptsException } from '../throttle/throttle-errors.js';
import { AuthUsers } from '../users/auth-users.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { PasswordChecks } from './password-checks.js';
import { RefusalPacing } from './refusal-pacing.js';

/** A login that succeeded: the new session, and the device to remember with the answer (`loginThrottle.deviceCookie`). */
export interface LoggedIn {
  readonly session: IssuedSession;
  readonly device: RememberedDevice | undefined;
}

/**
 * Username and password in, a session out: the login's orchestration. In order: the login `Origin` check, the
 * throttle's count (`LoginThrottle`), the user lookup, the password check in the bounded queue, then the
 * attempt's outcome, pacing and rehash. Unknown user, wrong password and inactive user give the same answer
 * after the same work: the password check runs against a dummy hash when the user does not exist.
 * Everything about the call comes in as the `Caller`; nothing is written to a response here.
 */
@Injectable()
export class LoginService implements OnModuleDestroy {
  /** @internal The password-check queue, with the rehash on login. */
  readonly checks: PasswordChecks;
  /** @internal Held refusals and each client's backoff streak (this instance's, in memory). */
  readonly pacing: RefusalPacing;

  constructor(
    private readonly users: AuthUsers,
    private readonly sessions: SessionService,
    private readonly audit: AuditEmitter,
    private readonly throttle: LoginThrottle,
    private readonly cookies: CookieJar,
    @Inject(LOGIN_THROTTLE_OPTIONS) options: ResolvedLoginThrottleOptions,
  ) {
    this.checks = new PasswordChecks({
      max: options.passwordChecks.concurrency,
      maxQueued: options.passwordChecks.maxQueued,
      retryAfterSeconds: options.passwordChecks.retryAfterSeconds,
    });
    // A crowd: more answers held at once than 4 × the queue's places (its running and waiting checks).
    const places = options.passwordChecks.concurrency + options.passwordChecks.maxQueued;
    this.pacing = new RefusalPacing(options.pacingMs, Math.max(8, 4 * places));
  }

  /** Before the HTTP server closes: held refusals are answered now, not at the end of their pause. */
  onModuleDestroy(): void {
    this.pacing.releaseAll();
  }

  async login(username: string, password: string, caller: Caller = NO_CALLER): Promise<LoggedIn> {
    // Login CSRF: a foreign page posting the form is refused before any password work.
    this.cookies.checkLoginOrigin(caller.carrier);
    // Trust proxy honoured; a WebSocket's upgrade request; `loginThrottle.clientAddress` for a message.
    const ip = caller.address;
    const fail = (reason: string, userId?: string, known = false): never => {
      // A known user's name is safe to log; an unknown one may be a password typed in the wrong field. Its
      // fingerprint is the throttle's: a `login.throttled` event of the same name carries the same one.
      const shown = known && typeof username === 'string' ? username.slice(0, 150) : this.throttle.shownUsername(username);
      this.audit.emit({ type: 'login.failed', username: shown, userId, ip, reason });
      throw new AuthError('invalid_credentials', reason);
    };
    if (typeof username !== 'string' || typeof password !== 'string' || username.length === 0 || password.length === 0) {
      return fail('malformed');
    }
    const { users, hasher } = this.users;
    // A full password-check queue is 503 `auth_busy` first, before any counting: the cheapest refusal, the same for every name.
    if (this.checks.full) await this.refuse(this.checks.busy(), caller);
    // Over a limit: 429 before any lookup or hashing, for real and unknown usernames alike.
    const attempt = await this.throttle.check(username, caller).catch((err: unknown) => this.refuse(err, caller));
    let user: AuthUserRecord | null;
    let passwordOk: boolean;
    let accountOpen = true;
    try {
      user = await users.findByUsername(username);
      // Counted on the account the lookup resolved too (every spelling of it shares one budget). Over its limit
      // the login fails as a wrong password does, after the same work: a 429 here would tell that the name exists.
      if (user) accountOpen = await attempt.bindAccount(String(user.id));
      // The same password work whether or not the user exists: timing must not tell which usernames are real.
      const hash = user && accountOpen ? user.passwordHash : await this.users.dummyPasswordHash();
      // In the bounded queue: 503 auth_busy beyond it, dropped when the client has gone.
      const verified = await this.checks.verify(hasher, hash, password, caller.carrier).catch((err: unknown) => this.refuse(err, caller));
      passwordOk = verified && accountOpen;
    } catch (err) {
      await attempt.abandoned(); // no password was checked: it does not count
      throw err;
    }
    if (!user || !passwordOk || user.isActive === false) {
      await attempt.failed();
      // While the password checks are all taken, a failure's answer is held like a refusal's (`pacingMs`), so the
      // place it freed goes to whoever comes next, not to the same client re-sending at once.
      if (this.checks.saturated) await this.pacing.failure(caller.carrier);
      if (!user) return fail('unknown_user');
      if (!accountOpen) return fail('account_throttled', String(user.id), true);
      if (!passwordOk) return fail('bad_password', String(user.id), true);
      return fail('inactive', String(user.id), true);
    }
    const device = await attempt.succeeded();
    // A login from this address succeeded: its refusals back off from the start again.
    this.pacing.forgive(ip === undefined ? undefined : normaliseIp(ip));
    await this.checks.rehashIfNeeded(hasher, users, user, password);
    return { session: await this.sessions.start(user, caller), device };
  }

  /**
   * After `refresh()` refused a token (401): counts it against the caller's address (`loginThrottle.refreshPerIp`);
   * over the limit the answer is 429 `too_many_attempts` instead, held like any refusal.
   */
  async refreshRefused(caller: Caller): Promise<void> {
    await this.throttle.refreshFailed(caller).catch((err: unknown) => this.refuse(err, caller));
  }

  /**
   * Throws a 429/503 refusal after holding it (`pacingMs`, backed off for a client that re-sends before its
   * `Retry-After` ended; for a busy queue the `Retry-After` backs off with it). The client is its address, as the
   * counters see it: behind a proxy a connection carries many clients, so nothing is keyed by connection.
   * Anything else (and a client that has gone: nobody reads its answer) is thrown as it is.
   */
  private async refuse(err: unknown, caller: Caller): Promise<never> {
    if (!(err instanceof TooManyAttemptsException || err instanceof AuthBusyException) || err instanceof ClientGoneError) throw err;
    const busy = err instanceof AuthBusyException;
    const ip = caller.address;
    const retryAfter = await this.pacing.refusal(caller.carrier, ip === undefined ? undefined : normaliseIp(ip), err.retryAfterSeconds, busy);
    throw busy && retryAfter !== err.retryAfterSeconds ? new AuthBusyException(retryAfter, err.reason) : err;
  }
}
