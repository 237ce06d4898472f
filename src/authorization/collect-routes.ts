import { RequestMethod, type INestApplicationContext } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { RoutePolicy } from './route-policy.js';
import { routePolicyOf, type RoutePolicyOf } from './route-policy-source.js';

/** One HTTP route of the app and the policy the guard applies to it. */
export interface AuthRoute {
  controller: string;
  handler: string;
  /** `GET`, `POST`, ... (`ALL` for `@All()`). */
  method: string;
  /** Controller path + method path, with the global prefix when the app has one; Nest's `:param` syntax. */
  path: string;
  isPublic: boolean;
  /** The permissions the route requires, and whether all or any of them. */
  permissions: readonly string[] | undefined;
  permissionMode: 'all' | 'any' | undefined;
  staff: boolean;
  superuser: boolean;
  /** The handler function and its controller class, for tools that attach metadata. */
  handlerRef: Function;
  classRef: Function;
  policy: RoutePolicy;
}

function asList(value: unknown): string[] {
  if (value === undefined || value === null) return ['/'];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function join(...parts: string[]): string {
  const joined = parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p.length > 0)
    .join('/');
  return `/${joined}`;
}

/** The app's global prefix, read from its configuration (not part of Nest's typed surface). */
function globalPrefixOf(app: INestApplicationContext): string {
  const config = (app as unknown as { config?: { getGlobalPrefix?: () => string } }).config;
  return typeof config?.getGlobalPrefix === 'function' ? config.getGlobalPrefix() : '';
}

/**
 * Every HTTP route of every controller of the app, in module order, with its
 * computed policy. Versions and per-route prefix exclusions are not applied
 * to the path (the policy does not depend on them).
 */
export function collectRoutes(app: INestApplicationContext, policyOf: RoutePolicyOf = routePolicyOf()): AuthRoute[] {
  const scanner = new MetadataScanner();
  const prefix = globalPrefixOf(app);
  const seen = new Set<Function>();
  const routes: AuthRoute[] = [];
  for (const moduleRef of app.get(ModulesContainer, { strict: false }).values()) {
    for (const wrapper of moduleRef.controllers.values()) {
      const cls = wrapper.metatype as Function | undefined;
      if (typeof cls !== 'function' || seen.has(cls)) continue;
      seen.add(cls);
      const prototype = cls.prototype as Record<string, unknown>;
      const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, cls));
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function') continue;
        const methodPath = Reflect.getMetadata(PATH_METADATA, handler) as unknown;
        if (methodPath === undefined) continue;
        const requestMethod = (Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined) ?? RequestMethod.GET;
        const policy = policyOf(handler, cls);
        for (const ctrlPath of controllerPaths) {
          for (const path of asList(methodPath)) {
            routes.push({
              controller: cls.name,
              handler: name,
              method: RequestMethod[requestMethod],
              path: join(prefix, ctrlPath, path),
              isPublic: policy.isPublic,
              permissions: policy.permissions,
              permissionMode: policy.permissions === undefined ? undefined : policy.anyPermission ? 'any' : 'all',
              staff: policy.staffOnly,
              superuser: policy.superuserOnly,
              handlerRef: handler,
              classRef: cls,
              policy,
            });
          }
        }
      }
    }
  }
  return routes;
}
