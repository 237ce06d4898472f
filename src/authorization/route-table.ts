import { Logger, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import { AuthConfigError } from '../errors/auth-error.js';
import { collectRoutes, type AuthRoute } from './collect-routes.js';

/** What a route demands, in words: `public`, `authenticated`, `superuser`, `staff`, `all(a, b)`, `any(a, b)`. */
export function describeAccess(route: Pick<AuthRoute, 'isPublic' | 'permissions' | 'permissionMode' | 'staff' | 'superuser'>): string {
  if (route.isPublic) return 'public';
  const parts: string[] = [];
  if (route.superuser) parts.push('superuser');
  if (route.staff) parts.push('staff');
  if (route.permissions !== undefined) {
    const list = route.permissions.join(', ');
    parts.push(
      route.permissionMode === 'any' && route.permissions.length > 1 ? `any(${list})` : route.permissions.length > 1 ? `all(${list})` : list,
    );
  }
  return parts.length > 0 ? parts.join(' + ') : 'authenticated';
}

/** The routes as one plain-text table: method, path, access, handler. Sorted by path, then method. */
export function formatRouteTable(routes: readonly AuthRoute[]): string {
  const header = ['METHOD', 'PATH', 'ACCESS', 'HANDLER'];
  const rows = [...routes]
    .sort((a, b) => (a.path === b.path ? a.method.localeCompare(b.method) : a.path.localeCompare(b.path)))
    .map((r) => [r.method, r.path, describeAccess(r), `${r.controller}.${r.handler}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Logs the computed policy of every route as one table, e.g. from `main.ts`
 * after `NestFactory.create()` (the app must be initialised: `await app.init()`
 * or after `listen()`). Returns the table.
 */
export function printRouteTable(app: INestApplicationContext, logger: Pick<LoggerService, 'log'> = new Logger('AuthRoutes')): string {
  const table = formatRouteTable(collectRoutes(app));
  logger.log(`route policy\n${table}`);
  return table;
}

/**
 * Fails (AuthConfigError naming the option `permissions`) when a route
 * requires a permission outside `catalog`: call it at boot with the catalog's
 * `permissions`, so a permission typed by hand through the untyped decorator
 * cannot drift from the catalog.
 */
export function assertPermissionsInCatalog(app: INestApplicationContext, catalog: readonly string[]): void {
  const known = new Set(catalog);
  const unknown: string[] = [];
  for (const route of collectRoutes(app)) {
    for (const p of route.permissions ?? []) {
      if (!known.has(p)) unknown.push(`${route.controller}.${route.handler} requires "${p}"`);
    }
  }
  if (unknown.length > 0) {
    throw new AuthConfigError('permissions', `not in the permission catalog: ${[...new Set(unknown)].join('; ')}`);
  }
}
