import type { INestApplicationContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RoutePolicyCache, type RoutePolicy } from '../guard/route-policy.js';

/** The computed policy of one handler of one controller class: the guard's own answer. */
export type RoutePolicyOf = (handler: Function, cls: Function) => RoutePolicy;

/**
 * The route policy the guard enforces, for the tools that describe it (the
 * OpenAPI document, the route table, the catalog check). The one place to
 * point at the module's boot-time route table once it exists, so the
 * documents can never disagree with the guard.
 */
export function routePolicyOf(app: INestApplicationContext): RoutePolicyOf {
  const cache = new RoutePolicyCache(app.get(Reflector, { strict: false }));
  return (handler, cls) => cache.get(handler, cls);
}
