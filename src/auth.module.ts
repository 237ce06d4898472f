import { Module, type CanActivate, type DynamicModule, type ModuleMetadata, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from './api-keys/api-key.service.js';
import { AUTH_OPTIONS, AUTH_RAW_OPTIONS } from './auth.constants.js';
import type { AuthModuleOptions, ResolvedAuthOptions } from './auth.options.js';
import { resolveAuthOptions } from './auth.options.validate.js';
import { AuthService } from './auth.service.js';
import { AuthCore } from './core/auth-core.js';
import { NestAuthGuard } from './guard/auth.guard.js';
import { JwtStrategy } from './passport/jwt.strategy.js';
import { AuthConfigError } from './errors/auth-error.js';
import { DEFAULT_JWKS_PATH, jwksControllerFor } from './jwks/jwks.controller.js';

export interface AuthModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: unknown[];
  useFactory: (...args: any[]) => Omit<AuthModuleOptions, 'jwksRoute'> | Promise<Omit<AuthModuleOptions, 'jwksRoute'>>;
  /** As `AuthModuleOptions.jwksRoute`: given here because routes are fixed before the factory runs. */
  jwksRoute?: boolean | string;
}

/** With `globalGuard: false` the APP_GUARD slot holds this instead: the app places `NestAuthGuard` itself. */
const NO_GLOBAL_GUARD: CanActivate = { canActivate: () => true };

/**
 * `AuthModule.forRoot()` / `forRootAsync()`: a global module. Wiring only:
 * validation lives in auth.options.validate.ts, behaviour in the core.
 */
@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions): DynamicModule {
    return AuthModule.assemble([], { provide: AUTH_RAW_OPTIONS, useValue: options }, options.jwksRoute);
  }

  static forRootAsync(options: AuthModuleAsyncOptions): DynamicModule {
    return AuthModule.assemble(
      options.imports ?? [],
      { provide: AUTH_RAW_OPTIONS, useFactory: options.useFactory, inject: (options.inject ?? []) as never[] },
      options.jwksRoute,
    );
  }

  private static assemble(
    imports: NonNullable<ModuleMetadata['imports']>,
    rawOptions: Provider,
    jwksRoute: boolean | string | undefined,
  ): DynamicModule {
    if (jwksRoute !== undefined && typeof jwksRoute !== 'boolean' && (typeof jwksRoute !== 'string' || jwksRoute.length === 0)) {
      throw new AuthConfigError('jwksRoute', 'must be true, false or a route path');
    }
    const jwksPath = jwksRoute === true ? DEFAULT_JWKS_PATH : jwksRoute || undefined;
    return {
      module: AuthModule,
      global: true,
      imports,
      controllers: jwksPath ? [jwksControllerFor(jwksPath)] : [],
      providers: [
        rawOptions,
        // Validated while the app boots, so a bad option fails `NestFactory.create`, never the first request.
        { provide: AUTH_OPTIONS, useFactory: resolveAuthOptions, inject: [AUTH_RAW_OPTIONS] },
        AuthCore,
        AuthService,
        ApiKeyService,
        NestAuthGuard,
        JwtStrategy,
        {
          provide: APP_GUARD,
          useFactory: (options: ResolvedAuthOptions, guard: NestAuthGuard) => (options.globalGuard ? guard : NO_GLOBAL_GUARD),
          inject: [AUTH_OPTIONS, NestAuthGuard],
        },
      ],
      exports: [AUTH_OPTIONS, AuthService, ApiKeyService, NestAuthGuard, JwtStrategy, AuthCore],
    };
  }
}
