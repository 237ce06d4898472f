import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { RoutePolicyCache, type RoutePolicy } from '../authorization/route-policy.js';
import { carrierOf, type Carrier } from '../transports/carrier.js';

const CALL = Symbol('nest-auth:call');

/** What a guard knows of a call and a passport strategy, which sees only the request, does not. */
export interface StampedCall {
  carrier: Carrier;
  policy: RoutePolicy;
  handler: Function;
}

export function stampCall(carrier: Carrier, policy: RoutePolicy, handler: Function): void {
  carrier.target[CALL] = { carrier, policy, handler } satisfies StampedCall;
}

export function stampedCall(request: object): StampedCall | undefined {
  return (request as Record<symbol, StampedCall | undefined>)[CALL];
}

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
    if (carrier !== undefined) stampCall(carrier, this.policies.get(ctx.getHandler(), ctx.getClass()), ctx.getHandler());
    return true;
  }
}
