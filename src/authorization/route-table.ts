import { Logger, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
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

/** A trusted issuer as the module's resolved options describe it: what its claim mapping can grant, when that is known. */
export interface PermissionGrantor {
  issuer: string;
  /** Where the options name it: `trustedIssuers[0]`. */
  option: string;
  /** `grantable`: every permission the mapping can yield, or undefined when the provider's claims decide. */
  mapping: { grantable: readonly string[] | undefined };
}

/** What the catalog check reads of the module's options (`AUTH_OPTIONS`): who can hold permissions. */
interface PermissionSources {
  /** The app's own tokens: its users hold what the `UserProvider` gives them, any permission of the catalog. */
  issuesTokens?: boolean;
  /** API keys hold the permissions they were created with, any permission of the catalog. */
  apiKeys?: { enabled?: boolean };
  trustedIssuers?: readonly PermissionGrantor[];
}

function sourcesOf(app: INestApplicationContext): PermissionSources | undefined {
  try {
    return app.get<symbol, PermissionSources>(AUTH_OPTIONS, { strict: false });
  } catch {
    // An app without AuthModule: the routes against the catalog only.
    return undefined;
  }
}

/**
 * Fails (AuthConfigError) at boot when the permissions of the routes, the catalog and what can grant them disagree:
 *
 * - a route requires a permission outside `catalog` (a permission typed by hand through the untyped decorator
 *   drifted from the catalog): the error names the option `permissions`;
 * - a trusted issuer's `claims.permissionMap` grants a permission outside `catalog` (a typo there would never
 *   match a route): the error names that option;
 * - where it can know, a route requires what nothing can grant: with no tokens of the app's own and no API keys,
 *   only trusted issuers grant permissions, and when every one of them says what it can grant (a
 *   `permissionMap`, or a preset that grants none, such as `google`) and no one of them grants what the route
 *   requires (all of its permissions, or one of them for `mode: 'any'`), only a superuser could ever pass it.
 *   An issuer whose permissions come straight from its claims (paths, a function) could grant anything, so the
 *   check stops there.
 */
export function assertPermissionsInCatalog(app: INestApplicationContext, catalog: readonly string[]): void {
  const known = new Set(catalog);
  const routes = collectRoutes(app);
  const unknown: string[] = [];
  for (const route of routes) {
    for (const p of route.permissions ?? []) {
      if (!known.has(p)) unknown.push(`${route.controller}.${route.handler} requires "${p}"`);
    }
  }
  if (unknown.length > 0) {
    throw new AuthConfigError('permissions', `not in the permission catalog: ${[...new Set(unknown)].join('; ')}`);
  }
  const sources = sourcesOf(app);
  const issuers = sources?.trustedIssuers ?? [];
  for (const issuer of issuers) {
    const outside = (issuer.mapping.grantable ?? []).filter((p) => !known.has(p));
    if (outside.length > 0) {
      throw new AuthConfigError(
        `${issuer.option}.claims.permissionMap`,
        `grants ${outside.map((p) => `"${p}"`).join(', ')}, not in the permission catalog (${catalog.join(', ')})`,
      );
    }
  }
  // The app's own users and API keys may hold any permission of the catalog, and so may an issuer whose claims decide.
  if (sources === undefined || sources.issuesTokens !== false || sources.apiKeys?.enabled === true) return;
  if (issuers.some((issuer) => issuer.mapping.grantable === undefined)) return;
  const grants = issuers.map((issuer) => new Set(issuer.mapping.grantable));
  const unreachable: string[] = [];
  for (const route of routes) {
    const required = route.permissions ?? [];
    if (required.length === 0) continue;
    const any = route.permissionMode === 'any';
    if (grants.some((granted) => (any ? required.some((p) => granted.has(p)) : required.every((p) => granted.has(p))))) continue;
    const what = required.length === 1 ? `"${required[0]}"` : `${any ? 'any' : 'all'} of ${required.map((p) => `"${p}"`).join(', ')}`;
    unreachable.push(`${route.controller}.${route.handler} requires ${what}`);
  }
  if (unreachable.length > 0) {
    const granting = issuers
      .map((issuer) => `${issuer.option} grants ${issuer.mapping.grantable!.length === 0 ? 'none' : issuer.mapping.grantable!.join(', ')}`)
      .join('; ');
    throw new AuthConfigError(
      'permissions',
      `nothing can grant what these routes require (only a superuser could pass them): ${[...new Set(unreachable)].join('; ')}. ` +
        `The app issues no tokens of its own and has no API keys, and ${granting || 'no trusted issuer grants any'}`,
    );
  }
}
