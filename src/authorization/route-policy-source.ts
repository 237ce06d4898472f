import { RoutePolicyCache, type RoutePolicy } from './route-policy.js';

/** The computed policy of one handler of one controller class: the guard's own answer. */
export type RoutePolicyOf = (handler: Function, cls: Function) => RoutePolicy;

/**
 * The route policy the guards enforce (`computeRoutePolicy`, precedence rules
 * included), for the tools that describe it: the OpenAPI document, the route
 * table, the catalog check. They never compute a policy of their own, so they
 * cannot disagree with the guard.
 */
export function routePolicyOf(): RoutePolicyOf {
  const cache = new RoutePolicyCache();
  return (handler, cls) => cache.get(handler, cls);
}
