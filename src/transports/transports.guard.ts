import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { RoutePolicyCache } from '../authorization/route-policy.js';
import { apiKeyHeaderSource, tokenHeaderSource, type CredentialSource } from '../credentials/credential.js';
import { AuthError } from '../errors/auth-error.js';
import { AuthPipeline } from '../guard/auth-pipeline.js';
import { stampCall } from '../guard/policy-stamp.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import type { Carrier } from './carrier.js';
import { transportCarrierOf, transportFailureOf, unknownContextFailure } from './carrier-of.js';
import { asAuthError } from './transport-error.js';
import { TransportAuth } from './transport-auth.js';

/**
 * INTEGRATION (interim): `NestAuthGuard` as it will be once carrier.ts and
 * errors.ts dispatch to the transport readers and mappers: the same pipeline,
 * with `transportCarrierOf(ctx)` for the carrier and the transport's own
 * failure instead of an HTTP exception. When the lead wires
 * `transportCarrierOf`/`transportFailureOf` into PipelineGuard and
 * AuthPipeline, this class goes and apps keep the module's APP_GUARD.
 */
@Injectable()
export class TransportsGuard implements CanActivate {
  private readonly policies = new RoutePolicyCache();
  private readonly sources: CredentialSource[];

  constructor(
    private readonly pipeline: AuthPipeline,
    @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions,
    private readonly transports: TransportAuth,
  ) {
    this.sources = [tokenHeaderSource(options.jwt.header)];
    if (options.apiKeys.enabled) this.sources.push(apiKeyHeaderSource(options.apiKeys.header));
  }

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    const type = ctx.getType<string>();
    const handler = ctx.getHandler();
    const policy = this.policies.get(handler, ctx.getClass());
    const carrier = transportCarrierOf(ctx, this.transports.carrierOptions, type);
    // A context this module does not know: deny, never let through (public handlers too).
    if (carrier === undefined) throw unknownContextFailure(type, new AuthError('token_missing', 'unknown_transport'));
    stampCall(carrier, policy, handler);
    const fail = (err: unknown): never => {
      throw mapped(carrier, err);
    };
    let result: true | Promise<true>;
    try {
      result = this.pipeline.run(handler, carrier, policy, this.sources);
    } catch (err) {
      return fail(err);
    }
    return result === true ? true : result.catch(fail);
  }
}

/** The pipeline throws HTTP exceptions today: the other transports get theirs. */
function mapped(carrier: Carrier, err: unknown): unknown {
  if (carrier.type === 'http') return err;
  const authError = asAuthError(err);
  return authError === undefined ? err : transportFailureOf(carrier, authError, false);
}
