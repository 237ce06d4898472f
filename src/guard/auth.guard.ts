import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { RoutePolicyCache } from '../authorization/route-policy.js';
import { apiKeyHeaderSource, tokenHeaderSource, type CredentialSource } from '../credentials/credential.js';
import { CookieJar } from '../cookies/cookie-jar.js';
import { cookieCredentialSource } from '../credentials/cookie.js';
import { AuthError } from '../errors/auth-error.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { carrierOf } from '../transports/carrier.js';
import { failureFor } from '../transports/errors.js';
import { AuthPipeline } from './auth-pipeline.js';
import { stampCall } from './policy-stamp.js';

/** Shared by the module's guards: the policy of the handler, the carrier, one pass of the pipeline. */
abstract class PipelineGuard implements CanActivate {
  private readonly policies = new RoutePolicyCache();

  constructor(
    private readonly pipeline: AuthPipeline,
    private readonly sources: readonly CredentialSource[],
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    const policy = this.policies.get(ctx.getHandler(), ctx.getClass());
    const carrier = carrierOf(ctx);
    // A transport this guard does not know: deny, never let through.
    if (carrier === undefined) throw failureFor(undefined, new AuthError('token_missing', 'unknown_transport'), false);
    const handler = ctx.getHandler();
    stampCall(carrier, policy, handler);
    return this.pipeline.run(handler, carrier, policy, this.sources);
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
  constructor(pipeline: AuthPipeline, @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions, cookies: CookieJar) {
    const sources = [tokenHeaderSource(options.jwt.header)];
    if (options.apiKeys.enabled) sources.push(apiKeyHeaderSource(options.apiKeys.header));
    // Last, and only when no credential header is sent: the header wins over the cookie.
    if (cookies.enabled) {
      sources.push(cookieCredentialSource(cookies, options.apiKeys.enabled ? [options.jwt.header, options.apiKeys.header] : [options.jwt.header]));
    }
    super(pipeline, sources);
  }
}

/**
 * The same guard for bearer tokens only (no API keys), for apps that compose
 * guards with `globalGuard: false`. The same route policy, codes and
 * `WWW-Authenticate` as `NestAuthGuard`.
 */
@Injectable()
export class JwtAuthGuard extends PipelineGuard {
  constructor(pipeline: AuthPipeline, @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions) {
    super(pipeline, [tokenHeaderSource(options.jwt.header)]);
  }
}
