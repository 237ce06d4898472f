import { Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { computeRoutePolicy, HandlerCache, type RoutePolicy } from '../authorization/route-policy.js';
import { apiKeyHeaderSource, tokenHeaderSource, type CredentialSource } from '../credentials/credential.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { cookieCredentialSource } from '../credentials/cookie.js';
import { ContextReach } from '../context/context-reach.js';
import { AuthError } from '../errors/auth-error.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { TRANSPORT_OPTIONS, type AuthTransportsOptions, type CarrierOptions } from '../call/carrier.js';
import { carrierOf, failureFor } from '../call/transports.js';
import { AuthPipeline } from './auth-pipeline.js';

/** Shared by the module's guards: the policy of the handler, the carrier, one pass of the pipeline. */
abstract class PipelineGuard implements CanActivate {
  /** Per handler, once: its policy, and whether its class carries the context interceptor (the call is marked then). */
  private readonly handlers: HandlerCache<{ policy: RoutePolicy; marked: boolean }>;
  private readonly carrierOptions: CarrierOptions;

  constructor(
    private readonly pipeline: AuthPipeline,
    private readonly sources: readonly CredentialSource[],
    options: ResolvedAuthOptions,
    transports: AuthTransportsOptions | undefined,
    /** With `requestContext: 'auto'`: which classes carry the context interceptor. */
    reach: ContextReach | undefined,
  ) {
    this.carrierOptions = { tokenHeader: options.jwt.header, allowQueryToken: transports?.allowQueryToken === true };
    this.handlers = new HandlerCache((handler, cls) => ({
      policy: computeRoutePolicy(handler, cls),
      marked: reach === undefined || reach.needsContext(cls),
    }));
  }

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    const handler = ctx.getHandler();
    const { policy, marked } = this.handlers.get(handler, ctx.getClass());
    const type = ctx.getType<string>();
    const carrier = carrierOf(ctx, type, this.carrierOptions);
    // A transport (or a custom RPC context) this guard does not know: deny, never let through, in that transport's terms.
    if (carrier === undefined) {
      throw failureFor({ type, target: {}, headers: undefined, response: undefined }, new AuthError('token_missing', 'unknown_transport'), false);
    }
    // The call is marked for the context interceptor only where one runs: a class without it needs no record.
    return this.pipeline.run(marked ? handler : undefined, carrier, policy, this.sources);
  }
}

/**
 * The module's guard: bearer tokens and API keys, the route policy, the
 * request context. Registered as APP_GUARD unless `globalGuard: false`, so
 * every route is private by default; place it yourself with
 * `@UseGuards(NestAuthGuard)` otherwise.
 */
@Injectable()
export class NestAuthGuard extends PipelineGuard {
  constructor(
    pipeline: AuthPipeline,
    @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions,
    cookies: CookieJar,
    @Optional() @Inject(TRANSPORT_OPTIONS) transports?: AuthTransportsOptions,
    @Optional() reach?: ContextReach,
  ) {
    const sources = [tokenHeaderSource(options.jwt.header)];
    if (options.apiKeys.enabled) sources.push(apiKeyHeaderSource(options.apiKeys.header));
    // Last, and only when no credential header is sent: the header wins over the cookie.
    if (cookies.enabled) {
      sources.push(cookieCredentialSource(cookies, options.apiKeys.enabled ? [options.jwt.header, options.apiKeys.header] : [options.jwt.header]));
    }
    super(pipeline, sources, options, transports, reach);
  }
}

/**
 * The same guard for bearer tokens only (no API keys), for apps that compose
 * guards with `globalGuard: false`. The same route policy, codes and
 * `WWW-Authenticate` as `NestAuthGuard`.
 */
@Injectable()
export class JwtAuthGuard extends PipelineGuard {
  constructor(
    pipeline: AuthPipeline,
    @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions,
    @Optional() @Inject(TRANSPORT_OPTIONS) transports?: AuthTransportsOptions,
    @Optional() reach?: ContextReach,
  ) {
    super(pipeline, [tokenHeaderSource(options.jwt.header)], options, transports, reach);
  }
}
