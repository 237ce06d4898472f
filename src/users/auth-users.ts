import { Inject, Injectable, Logger, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { AuthConfigError } from '../errors/auth-error.js';
import type { UserSettings } from './user-settings.js';
import { Argon2PasswordHasher } from './argon2-password-hasher.js';
import type { PasswordHasher, UserProvider } from './user.types.js';

/**
 * The app's users and the password hasher. A `users` class is taken from the
 * app's container when the module initialises (or built, when the app does
 * not register it).
 */
/** Injection token of the password hasher in use (`passwordHasher`, argon2id by default). */
export const PASSWORD_HASHER = Symbol('PASSWORD_HASHER');

/** The hasher provider: the option's, or argon2id. */
export const passwordHasherProvider = {
  provide: PASSWORD_HASHER,
  useFactory: (options: UserSettings): PasswordHasher => options.passwordHasher ?? new Argon2PasswordHasher(),
  inject: [AUTH_OPTIONS],
};

@Injectable()
export class AuthUsers {
  private provider: UserProvider | undefined;
  private dummyHash: Promise<string> | undefined;
  private readonly logger = new Logger('AuthModule');

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: UserSettings,
    @Inject(PASSWORD_HASHER) readonly hasher: PasswordHasher,
    private readonly moduleRef: ModuleRef,
  ) {}

  async resolve(): Promise<void> {
    const users = this.options.users;
    if (users === undefined) {
      this.logger.warn('no `users` option: login() and refresh() will fail; tokens issued elsewhere and API keys still work');
      return;
    }
    if (typeof users !== 'function') {
      this.provider = users;
      return;
    }
    const cls = users as Type<UserProvider>;
    try {
      this.provider = this.moduleRef.get(cls, { strict: false });
    } catch {
      // Not registered by the app: build it here (its dependencies must be global then).
      this.provider = await this.moduleRef.create(cls);
    }
  }

  get users(): UserProvider {
    if (!this.provider) throw new AuthConfigError('users', 'no UserProvider is configured: login() and refresh() need one');
    return this.provider;
  }

  /**
   * A hash of a random password, made with the configured hasher, so that a
   * login for an unknown user does the same work as one with a wrong password.
   */
  dummyPasswordHash(): Promise<string> {
    this.dummyHash ??= this.hasher.hash(randomBytes(24).toString('base64url'));
    return this.dummyHash;
  }
}
