import { Injectable } from '@nestjs/common';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { currentContext } from '../context/request-context.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { AuthError } from '../errors/auth-error.js';
import { SessionService } from '../sessions/session.service.js';
import { TokenCodec } from '../tokens/token-codec.js';
import type { TokenPair } from '../tokens/token-issuer.js';
import { AuthUsers } from '../users/auth-users.js';
import { LoginThrottle } from '../throttle/login-throttle.js';
import type { AuthUserRecord } from '../users/user.types.js';
import { UsernameFingerprint } from './username-fingerprint.js';

/**
 * Username and password in, a session out. Unknown user, wrong password and
 * inactive user give the same answer after the same work: the password check
 * runs against a dummy hash when the user does not exist.
 */
@Injectable()
export class LoginService {
  private readonly fingerprint: UsernameFingerprint;

  constructor(
    private readonly users: AuthUsers,
    private readonly sessions: SessionService,
    private readonly audit: AuditEmitter,
    private readonly throttle: LoginThrottle,
    codec: TokenCodec,
    private readonly cookies: CookieJar,
  ) {
    this.fingerprint = new UsernameFingerprint(codec.ring.signingKey?.signKey);
  }

  async login(username: string, password: string): Promise<TokenPair> {
    // Login CSRF: a foreign page posting the form is refused before any password work.
    this.cookies.checkLoginOrigin(currentContext()?.carrier);
    // Trust proxy honoured; a WebSocket's upgrade request; `loginThrottle.clientAddress` for a message.
    const ip = this.throttle.clientAddress();
    const fail = (reason: string, userId?: string, known = false): never => {
      // A known user's name is safe to log; an unknown one may be a password typed in the wrong field.
      const shown = known && typeof username === 'string' ? username.slice(0, 150) : this.fingerprint.of(username);
      this.audit.emit({ type: 'login.failed', username: shown, userId, ip, reason });
      throw new AuthError('invalid_credentials', reason);
    };
    if (typeof username !== 'string' || typeof password !== 'string' || username.length === 0 || password.length === 0) {
      return fail('malformed');
    }
    const { users, hasher } = this.users;
    // Over a limit: 429 before any lookup or hashing, for real and unknown usernames alike.
    const attempt = await this.throttle.check(username, ip);
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
      passwordOk = (await this.throttle.verifyPassword(() => hasher.verify(hash, password))) && accountOpen;
    } catch (err) {
      await attempt.abandoned(); // no password was checked: it does not count
      throw err;
    }
    if (!user || !passwordOk || user.isActive === false) {
      await attempt.failed();
      await this.throttle.paceFailure();
      if (!user) return fail('unknown_user');
      if (!accountOpen) return fail('account_throttled', String(user.id), true);
      if (!passwordOk) return fail('bad_password', String(user.id), true);
      return fail('inactive', String(user.id), true);
    }
    await attempt.succeeded();
    this.throttle.forgive(ip);
    await this.throttle.rehashIfNeeded(user, password);
    return this.sessions.start(user);
  }
}
