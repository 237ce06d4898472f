import {
  ConfigurableModuleBuilder,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, DiscoveryModule, DiscoveryService, LazyModuleLoader, ModuleRef, ModulesContainer } from '@nestjs/core';
import { ApiKeyService } from './api-keys/api-key.service.js';
import { AuditEmitter } from './audit/audit.emitter.js';
import { AUTH_OPTIONS } from './auth.constants.js';
import { AuthService } from './auth.service.js';
import { Authenticator } from './authentication/authenticator.js';
import { RoutePolicyService } from './authorization/route-policy.service.js';
import { bindRefusalShapes, bindRequestContext, ContextReach } from './context/context-reach.js';
import { CLASS_CONTEXT_INTERCEPTOR, HANDLER_REACH, REQUEST_CONTEXT_MODE, RequestContextInterceptor } from './context/request-context.interceptor.js';
import { CLASS_REFUSAL_INTERCEPTOR } from './context/refusal.interceptor.js';
import { AuthPipeline } from './guard/auth-pipeline.js';
import { CookieJar } from './cookies/cookie-jar.js';
import { JwtAuthGuard, NestAuthGuard } from './guard/auth.guard.js';
import { RoutePolicyStamp } from './guard/policy-stamp.js';
import { TrustedIssuers } from './issuers/trusted-issuers.js';
import { jwksControllerFor } from './jwks/jwks.controller.js';
import { LoginService } from './login/login.service.js';
import type { AuthModuleExtras, AuthModuleOptions, JwtOptions, ResolvedAuthOptions } from './options/auth-options.js';
import { resolveAuthOptions, resolveExtras } from './options/resolve-options.js';
import { JwtStrategy } from './passport/jwt.strategy.js';
import { RevocationGate } from './revocation/revocation-gate.js';
import { RevocationSync } from './revocation/revocation-sync.js';
import { RevocationWriter } from './revocation/revocation-writer.js';
import { resolveRevocationChannel } from './revocation/resolve-channel.js';
import { assertGatewaysGuarded, gatewayClasses } from './guard/gateway-guards.js';
import { loadTransportPeers } from './call/peers.js';
import { LoginThrottle } from './throttle/login-throttle.js';
import { loginThrottleProviders } from './throttle/throttle.providers.js';
import { THROTTLE_STORE } from './throttle/throttle-store.js';
import { ISSUED_ELSEWHERE, RevocationService } from './revocation/revocation.service.js';
import { SessionService } from './sessions/session.service.js';
import { AuthStores, storeTokenProviders } from './store/auth-stores.js';
import { TokenCodec } from './tokens/token-codec.js';
import { TokenIssuer } from './tokens/token-issuer.js';
import { AuthUsers, PASSWORD_HASHER, passwordHasherProvider } from './users/auth-users.js';

/** With `requestContext: false`, the provider that puts the refusal interceptor on classes. */
const REFUSAL_SHAPES = Symbol('AUTH_REFUSAL_SHAPES');

/**
 * The request context's wiring: `true`, an APP_INTERCEPTOR for every handler; `'auto'`, the interceptor put on the
 * classes that reach a context reader (at instantiation, before Nest builds the handlers); `false`, only the
 * refusal interceptor on those classes that serve off HTTP.
 */
function requestContextProviders(mode: boolean | 'auto'): Provider[] {
  const modeProvider = { provide: REQUEST_CONTEXT_MODE, useValue: mode };
  const reachOf = (modules: ModulesContainer) =>
    new ContextReach(
      modules,
      [AuthService, SessionService, LoginService, RevocationService, LoginThrottle],
      [ModuleRef, ModulesContainer, LazyModuleLoader, DiscoveryService],
    );
  if (mode === false) {
    // No context; AuthService's refusals in the classes that reach it still take their transport's shape.
    const bindRefusals = (modules: ModulesContainer) => (bindRefusalShapes(modules, reachOf(modules), CLASS_REFUSAL_INTERCEPTOR), true);
    return [modeProvider, { provide: REFUSAL_SHAPES, useFactory: bindRefusals, inject: [ModulesContainer] }];
  }
  if (mode === true) {
    // Every handler gets a context; the reach tells the ambient session methods which handlers' code they can be.
    return [
      modeProvider,
      // Not under ContextReach: its presence tells the guards that requestContext is 'auto'.
      { provide: HANDLER_REACH, useFactory: reachOf, inject: [ModulesContainer] },
      { provide: APP_INTERCEPTOR, useFactory: (reach: ContextReach) => new RequestContextInterceptor(reach), inject: [HANDLER_REACH] },
    ];
  }
  return [
    modeProvider,
    {
      provide: ContextReach,
      useFactory: (modules: ModulesContainer) => {
        const reach = reachOf(modules);
        bindRequestContext(modules, reach, CLASS_CONTEXT_INTERCEPTOR);
        return reach;
      },
      inject: [ModulesContainer],
    },
  ];
}

const definition = new ConfigurableModuleBuilder<AuthModuleOptions>({
  moduleName: 'Auth',
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createAuthOptions')
  .setExtras<AuthModuleExtras>({ globalGuard: true, jwksRoute: false, isGlobal: true, requestContext: 'auto' }, (definition, extras) =>
    assemble(definition, extras),
  )
  .build();
const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } = definition;

/** What `forRoot()` takes: the options, and the extras beside them. */
export type AuthModuleForRootOptions = typeof definition.OPTIONS_TYPE;
/** What `forRootAsync()` takes: `useFactory` / `useClass` / `useExisting` (+ `inject`, `imports`) and the extras. */
export type AuthModuleAsyncOptions = typeof definition.ASYNC_OPTIONS_TYPE;

/** `R` with no key that `Shape` does not have: a typo in an object literal becomes a compile error. */
type Exactly<R, Shape> = R & Record<Exclude<keyof R, keyof Shape>, never>;
/** The options a factory returns, checked at the top level and in `jwt`, where typos are likeliest. */
type FactoryResult<R extends AuthModuleOptions> = Exactly<R, AuthModuleOptions> & { jwt?: Exactly<NonNullable<R['jwt']>, JwtOptions> };

const EXTRAS = Symbol('AUTH_MODULE_EXTRAS');

/** Initialises what needs the whole app to exist (the user provider, the stores, the route table) and stops the timers. */
@Injectable()
class AuthLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly users: AuthUsers,
    private readonly stores: AuthStores,
    private readonly sync: RevocationSync,
    private readonly routes: RoutePolicyService,
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Inject(EXTRAS) private readonly extras: { globalGuard: boolean },
    private readonly modules: ModulesContainer,
  ) {}

  async onModuleInit(): Promise<void> {
    this.routes.build(this.extras.globalGuard, isModuleGuard);
    // Nest 11 runs no global guard on gateways: one that places no guard of ours fails the boot (secure by default).
    if (this.extras.globalGuard) assertGatewaysGuarded(gatewayClasses(this.modules), isModuleGuard);
    await this.users.resolve();
    await this.stores.resolve();
    if (this.options.revocation.consistency === 'cached') {
      this.sync.attachChannel(resolveRevocationChannel(this.options.revocation.channel, this.stores.dataSource));
    }
    await this.sync.start();
    // The exception classes of @nestjs/websockets and @nestjs/microservices, when the app has them: loaded once, here.
    await loadTransportPeers();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sync.stop();
  }
}

function isModuleGuard(guard: unknown): boolean {
  if (guard === NestAuthGuard || guard === JwtAuthGuard || guard instanceof NestAuthGuard || guard instanceof JwtAuthGuard) return true;
  // AuthGuard('jwt') of @nestjs/passport is a mixin class: tell it by its shape, it runs the module's strategy.
  const proto = (typeof guard === 'function' ? guard.prototype : undefined) as Record<string, unknown> | undefined;
  return typeof proto?.getAuthenticateOptions === 'function' && typeof proto?.handleRequest === 'function';
}

function assemble(definition: DynamicModule, rawExtras: AuthModuleExtras): DynamicModule {
  const extras = resolveExtras(rawExtras);
  const providers: Provider[] = [
    ...(definition.providers ?? []),
    { provide: EXTRAS, useValue: extras },
    // Validated while the app is created, so a bad option fails `NestFactory.create`, never the first request.
    { provide: AUTH_OPTIONS, useFactory: resolveAuthOptions, inject: [MODULE_OPTIONS_TOKEN] },
    { provide: TokenCodec, useFactory: (o: ResolvedAuthOptions) => new TokenCodec(o.jwt), inject: [AUTH_OPTIONS] },
    // The hot path's verdict, what keeps it in step with the store, and the one writer (all read the stores once resolved).
    {
      provide: RevocationGate,
      useFactory: (stores: AuthStores, o: ResolvedAuthOptions) =>
        new RevocationGate(
          stores,
          {
            consistency: o.revocation.consistency,
            syncIntervalMs: o.revocation.syncIntervalMs,
            accessTokenTtl: o.jwt.accessTokenTtl,
            storeTimeoutMs: o.revocation.storeTimeoutMs,
          },
          // The stale bound is real elapsed time: a test that moves the module's clock must not make the gate fail closed.
          () => performance.now(),
        ),
      inject: [AuthStores, AUTH_OPTIONS],
    },
    {
      provide: RevocationSync,
      useFactory: (stores: AuthStores, gate: RevocationGate, o: ResolvedAuthOptions) =>
        new RevocationSync(
          stores,
          gate,
          {
            consistency: o.revocation.consistency,
            syncIntervalMs: o.revocation.syncIntervalMs,
            accessTokenTtl: o.jwt.accessTokenTtl,
            maxTokenLifetime: o.jwt.maxTokenLifetime,
            storeTimeoutMs: o.revocation.storeTimeoutMs,
            channelSyncIntervalMs: o.revocation.channelSyncIntervalMs,
          },
          () => o.clock.now(),
          () => performance.now(),
        ),
      inject: [AuthStores, RevocationGate, AUTH_OPTIONS],
    },
    {
      provide: RevocationWriter,
      useFactory: (stores: AuthStores, gate: RevocationGate, sync: RevocationSync, o: ResolvedAuthOptions) =>
        new RevocationWriter(stores, gate, sync, { storeTimeoutMs: o.revocation.storeTimeoutMs }, () => o.clock.now()),
      inject: [AuthStores, RevocationGate, RevocationSync, AUTH_OPTIONS],
    },
    { provide: ISSUED_ELSEWHERE, useExisting: TrustedIssuers },
    AuditEmitter,
    { provide: CookieJar, useFactory: (o: ResolvedAuthOptions) => new CookieJar(o.cookies), inject: [AUTH_OPTIONS] },
    AuthStores,
    ...storeTokenProviders,
    passwordHasherProvider,
    AuthUsers,
    TokenIssuer,
    SessionService,
    LoginService,
    RevocationService,
    AuthService,
    ApiKeyService,
    TrustedIssuers,
    Authenticator,
    AuthPipeline,
    NestAuthGuard,
    JwtAuthGuard,
    JwtStrategy,
    RoutePolicyService,
    AuthLifecycle,
    ...loginThrottleProviders,
    ...requestContextProviders(extras.requestContext),
    extras.globalGuard
      ? { provide: APP_GUARD, useFactory: (guard: NestAuthGuard) => guard, inject: [NestAuthGuard] }
      : { provide: APP_GUARD, useClass: RoutePolicyStamp },
  ];
  return {
    ...definition,
    global: extras.isGlobal,
    imports: [...(definition.imports ?? []), DiscoveryModule],
    controllers: extras.jwksPath ? [jwksControllerFor(extras.jwksPath)] : [],
    providers,
    exports: [
      AUTH_OPTIONS,
      AuthService,
      ApiKeyService,
      NestAuthGuard,
      JwtAuthGuard,
      JwtStrategy,
      RoutePolicyService,
      LoginThrottle,
      THROTTLE_STORE,
      PASSWORD_HASHER,
      // Guards placed with @UseGuards are built in the app's modules: they need the pipeline (and, with
      // requestContext 'auto', which classes carry the context interceptor).
      AuthPipeline,
      ...(extras.requestContext === 'auto' ? [ContextReach] : []),
      // The transports module authenticates connections with these.
      Authenticator,
      RevocationGate,
      CookieJar,
      ...storeTokenProviders.map((p) => p.provide),
    ],
  };
}

/**
 * `AuthModule.forRoot(options)` / `forRootAsync({ useFactory | useClass |
 * useExisting })`: global unless `isGlobal: false`; registers `NestAuthGuard`
 * as APP_GUARD unless `globalGuard: false`. Wiring only: options are
 * validated in options/, behaviour lives in the services.
 */
@Module({})
export class AuthModule extends ConfigurableModuleClass {
  /** As the builder's, with the factory's result checked for unknown options (a returned object literal is not, otherwise). */
  static override forRootAsync<R extends AuthModuleOptions>(
    options: Omit<AuthModuleAsyncOptions, 'useFactory'> & {
      useFactory?: (...args: never[]) => FactoryResult<R> | Promise<FactoryResult<R>>;
    },
  ): DynamicModule {
    return super.forRootAsync(options as AuthModuleAsyncOptions);
  }
}
