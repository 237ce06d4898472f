import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { RoutePolicyCache } from '../authorization/route-policy.js';
import { recordCall } from '../call/record.js';
import { carrierOf } from '../call/transports.js';

/**
 * With `globalGuard: false`, the module registers this APP_GUARD instead of
 * `NestAuthGuard`: it lets every call through and only records the handler's
 * route policy on the request, because a passport strategy (the module's
 * `jwt` strategy under `AuthGuard('jwt')`) sees the request but not the
 * handler, and must still apply `@Public` and the permission checks.
 */
@Injectable()
export class RoutePolicyStamp implements CanActivate {
  private readonly policies = new RoutePolicyCache();

  canActivate(ctx: ExecutionContext): boolean {
    const carrier = carrierOf(ctx);
    if (carrier !== undefined) recordCall(carrier, this.policies.get(ctx.getHandler(), ctx.getClass()), ctx.getHandler());
    return true;
  }
}
