import { Injectable, Logger, RequestMethod } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { IS_PUBLIC, REQUIRED_PERMISSIONS, STAFF_ONLY, SUPERUSER_ONLY } from '../decorators/metadata-keys.js';
import { computeRoutePolicy, contradictionOf, type RoutePolicy } from './route-policy.js';

/** One handler of the app with the policy the module's guards apply to it. */
export interface RouteEntry {
  /** `Controller.method` */
  route: string;
  /** HTTP method and path, for controllers (`GET /articles`); undefined for resolvers, gateways and message handlers. */
  http?: { method: string; path: string };
  policy: RoutePolicy;
  /** Whether a guard of the module protects it (the global one, or `@UseGuards` naming one). */
  guarded: boolean;
}

const MODULE_KEYS = [IS_PUBLIC, REQUIRED_PERMISSIONS, STAFF_ONLY, SUPERUSER_ONLY];

/**
 * The computed policy of every route, built when the module initialises: a
 * contradiction fails the boot naming the handler, one debug line per route
 * is logged, and with `globalGuard: false` a handler that carries one of the
 * module's decorators but that no module guard protects is reported.
 */
@Injectable()
export class RoutePolicyService {
  private entries: RouteEntry[] = [];
  private readonly logger = new Logger('AuthRoutes');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** Every route of the app with its policy (an app can print its own route table from this). */
  routes(): readonly RouteEntry[] {
    return this.entries;
  }

  /** Builds the table. `isModuleGuard` tells the guard classes of the module apart. */
  build(globalGuard: boolean, isModuleGuard: (guard: unknown) => boolean): void {
    const entries: RouteEntry[] = [];
    const wrappers = [...this.discovery.getControllers(), ...this.discovery.getProviders()];
    const seen = new Set<Function>();
    const unguarded: string[] = [];
    for (const wrapper of wrappers) {
      const cls = wrapper.metatype as Function | undefined;
      if (typeof cls !== 'function' || seen.has(cls) || !cls.prototype) continue;
      seen.add(cls);
      const isController = Reflect.getMetadata(PATH_METADATA, cls) !== undefined;
      for (const name of this.scanner.getAllMethodNames(cls.prototype)) {
        const handler = cls.prototype[name] as Function;
        const isRoute = isController && Reflect.getMetadata(METHOD_METADATA, handler) !== undefined;
        const decorated = carriesModuleMetadata(handler) || carriesModuleMetadata(cls);
        if (!isRoute && !decorated) continue;
        const contradiction = contradictionOf(handler, cls);
        if (contradiction !== undefined) {
          throw new Error(`${contradiction}: @Public() together with @PermissionRequired, @StaffOnly or @SuperuserOnly is a contradiction`);
        }
        const guards = [...(Reflect.getMetadata(GUARDS_METADATA, cls) ?? []), ...(Reflect.getMetadata(GUARDS_METADATA, handler) ?? [])];
        entries.push({
          route: `${cls.name}.${name}`,
          http: isRoute ? httpOf(cls, handler) : undefined,
          policy: computeRoutePolicy(handler, cls),
          guarded: globalGuard || guards.some(isModuleGuard),
        });
        if (decorated && !entries[entries.length - 1].guarded) unguarded.push(`${cls.name}.${name}`);
      }
    }
    for (const entry of entries) {
      this.logger.debug(`${entry.http ? `${entry.http.method} ${entry.http.path} ` : ''}${entry.route}: ${entry.policy.required}`);
    }
    for (const route of unguarded) {
      this.logger.warn(
        `${route} carries a decorator of the module but no module guard protects it (globalGuard: false): add @UseGuards(NestAuthGuard), or ignore this if the guard is placed where the module cannot see it`,
      );
    }
    this.entries = entries;
  }
}

function carriesModuleMetadata(target: object): boolean {
  return MODULE_KEYS.some((key) => Reflect.getMetadata(key, target) !== undefined);
}

function httpOf(cls: Function, handler: Function): { method: string; path: string } {
  const join = (...parts: unknown[]) =>
    '/' +
    parts
      .flatMap((p) => (Array.isArray(p) ? p[0] : p))
      .filter((p): p is string => typeof p === 'string' && p !== '' && p !== '/')
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .join('/');
  const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number] ?? 'GET';
  return { method, path: join(Reflect.getMetadata(PATH_METADATA, cls), Reflect.getMetadata(PATH_METADATA, handler)) };
}
