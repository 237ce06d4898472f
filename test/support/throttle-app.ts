/**
 * Boots a real app with the login throttle wired in, until the lead's
 * LoginService calls it itself. `ThrottledAuthService` is AuthService with the
 * exact calls the integration adds (see the report): once they are in
 * src/, `bootThrottledApp` becomes `bootApp` and this file goes.
 */
import 'reflect-metadata';
import { Global, Module, ValidationPipe, type INestApplication, type LoggerService, type ModuleMetadata } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AuthModule, AuthService, type AuthModuleOptions, type TokenPair } from '../../src/index.js';
import { currentRequest } from '../../src/context/request-context.js';
import { AuthCore } from '../../src/core/auth-core.js';
import { AuthHttpException } from '../../src/errors/http-errors.js';
import { ipOf, LOGIN_THROTTLE_OPTIONS, LoginThrottle } from '../../src/throttle/login-throttle.js';
import { resolveLoginThrottleOptions, type LoginThrottleOptions } from '../../src/throttle/login-throttle.options.js';
import { loginThrottleCoreProviders } from '../../src/throttle/throttle.providers.js';
import type { AuthUserRecord } from '../../src/users/user.types.js';
import type { Adapter } from './app.js';

/** AuthService.login/refresh with the throttle calls placed where LoginService gets them. */
export class ThrottledAuthService extends AuthService {
  constructor(
    private readonly c: AuthCore,
    private readonly throttle: LoginThrottle,
  ) {
    super(c);
  }

  override async login(username: string, password: string): Promise<TokenPair> {
    const request = currentRequest.getStore();
    const ip = ipOf(request);
    const fail = (reason: string, userId?: string): never => {
      this.c.audit.emit({ type: 'login.failed', username: username.slice(0, 150), userId, ip, reason });
      throw new AuthHttpException('invalid_credentials', 'Invalid username or password');
    };
    if (typeof username !== 'string' || typeof password !== 'string' || username.length === 0 || password.length === 0) {
      return fail('malformed');
    }
    // (1) before findByUsername: 429 too_many_attempts for real and unknown names alike
    const attempt = await this.throttle.check(username, ip);
    let user: AuthUserRecord | null;
    let passwordOk: boolean;
    try {
      user = await this.c.users.findByUsername(username);
      const hash = user ? user.passwordHash : await this.c.dummyPasswordHash();
      // (2) the password check, in the bounded queue (503 auth_busy), dropped if the client has gone
      passwordOk = await this.throttle.verifyPassword(() => this.c.hasher.verify(hash, password));
    } catch (err) {
      await attempt.abandoned(); // no password was checked: the attempt does not count
      throw err;
    }
    // (3) on failure: the count taken by check() stays
    if (!user || !passwordOk || user.isActive === false) {
      await attempt.failed();
      return fail(!user ? 'unknown_user' : !passwordOk ? 'bad_password' : 'inactive', user ? String(user.id) : undefined);
    }
    // (4) on success: the account-and-IP counter resets, the others get their count back; then rehash
    await attempt.succeeded();
    await this.throttle.rehashIfNeeded(user, password);
    return (this as unknown as { startSession(u: AuthUserRecord, r: unknown): Promise<TokenPair> }).startSession(user, request);
  }

  override async refresh(refreshToken: string): Promise<TokenPair> {
    const attempt = await this.throttle.checkRefresh(ipOf(currentRequest.getStore()));
    try {
      const pair = await super.refresh(refreshToken);
      await attempt.succeeded();
      return pair;
    } catch (err) {
      // Only a refused token counts; a store outage does not.
      if ((err as { getStatus?: () => number }).getStatus?.() === 401) await attempt.failed();
      else await attempt.abandoned();
      throw err;
    }
  }
}

export interface ThrottleBootOptions extends ModuleMetadata {
  adapter?: Adapter;
  logger?: LoggerService;
}

export type ThrottledAuthOptions = AuthModuleOptions & { loginThrottle?: LoginThrottleOptions | false };

export async function bootThrottledApp(options: ThrottledAuthOptions, extra: ThrottleBootOptions = {}): Promise<INestApplication> {
  const { adapter = 'express', imports = [], logger, ...metadata } = extra;
  const { loginThrottle, ...authOptions } = options;
  const resolved = resolveLoginThrottleOptions(loginThrottle, authOptions as never);

  @Global()
  @Module({
    providers: [{ provide: LOGIN_THROTTLE_OPTIONS, useValue: resolved }, ...loginThrottleCoreProviders],
    exports: [LoginThrottle],
  })
  class ThrottleShimModule {}

  const moduleRef = await Test.createTestingModule({ ...metadata, imports: [...imports, ThrottleShimModule, AuthModule.forRoot(authOptions)] })
    .overrideProvider(AuthService)
    .useFactory({ factory: (core: AuthCore, throttle: LoginThrottle) => new ThrottledAuthService(core, throttle), inject: [AuthCore, LoginThrottle] })
    .compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter())
      : moduleRef.createNestApplication();
  app.useLogger(logger ?? false);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}
