import { PermissionRequired, type PermissionRequiredOptions } from './permission-required.decorator.js';

/** A list with at least one element: `@PermissionRequired()` with none fails anyway, so the type says it too. */
export type NonEmpty<T> = readonly [T, ...T[]];

/** What `can()` looks at: an `AuthPrincipal`, an `AuthContextData`, or `undefined` for a guest. */
export interface PermissionHolder {
  permissions: readonly string[];
  isSuperuser?: boolean;
}

/** `@PermissionRequired` narrowed to the permissions of one catalog. */
export interface TypedPermissionRequired<P extends string> {
  (permissions: NonEmpty<P>, options: PermissionRequiredOptions): MethodDecorator & ClassDecorator;
  (...permissions: NonEmpty<P>): MethodDecorator & ClassDecorator;
}

export interface PermissionCatalog<P extends string> {
  /** Every permission of the catalog, in the order given. */
  readonly permissions: readonly P[];
  /** The module's own `@PermissionRequired`, which only accepts the catalog's permissions. */
  readonly PermissionRequired: TypedPermissionRequired<P>;
  /** Whether the principal holds `permission` (a superuser holds every one, as the guard decides). */
  can(principal: PermissionHolder | null | undefined, permission: P): boolean;
  /** Whether the principal holds every one of `permissions`. */
  canAll(principal: PermissionHolder | null | undefined, permissions: NonEmpty<P>): boolean;
  /** Whether the principal holds at least one of `permissions`. */
  canAny(principal: PermissionHolder | null | undefined, permissions: NonEmpty<P>): boolean;
  /** Narrows a string from the outside (a request body, a database row) to a permission of the catalog. */
  includes(value: unknown): value is P;
}

/**
 * Declares the app's permissions once and returns a `PermissionRequired` and
 * checks typed to them, so a misspelt permission is a compile error:
 *
 *     export const perms = definePermissions(['articles:read', 'articles:write'] as const);
 *     @perms.PermissionRequired('articles:raed')   // error TS2345
 *
 * The decorator it returns is the module's own (same metadata, same boot
 * checks); the untyped `PermissionRequired` keeps working next to it.
 */
export function definePermissions<const P extends string>(catalog: NonEmpty<P>): PermissionCatalog<P> {
  if (!Array.isArray(catalog) || catalog.length === 0) {
    throw new TypeError('definePermissions() needs a non-empty list of permissions');
  }
  for (const p of catalog) {
    if (typeof p !== 'string' || p.trim().length === 0) {
      throw new TypeError(`definePermissions(): every permission must be a non-empty string, got ${JSON.stringify(p)}`);
    }
  }
  const known = new Set<string>(catalog);
  if (known.size !== catalog.length) throw new TypeError('definePermissions(): a permission is listed twice');
  const permissions = Object.freeze([...catalog]) as readonly P[];

  // The types already refuse a permission outside the catalog; this catches a cast or a plain-JS caller.
  const typed = ((...args: unknown[]) => {
    const listed = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
    for (const p of listed) {
      if (typeof p === 'string' && !known.has(p)) {
        throw new TypeError(`@PermissionRequired(): "${p}" is not in the permission catalog (${permissions.join(', ')})`);
      }
    }
    return (PermissionRequired as (...a: unknown[]) => MethodDecorator & ClassDecorator)(...args);
  }) as TypedPermissionRequired<P>;

  const holds = (principal: PermissionHolder | null | undefined, permission: string): boolean =>
    principal != null && (principal.isSuperuser === true || principal.permissions.includes(permission));

  return Object.freeze({
    permissions,
    PermissionRequired: typed,
    can: (principal: PermissionHolder | null | undefined, permission: P) => holds(principal, permission),
    canAll: (principal: PermissionHolder | null | undefined, list: NonEmpty<P>) => list.every((p) => holds(principal, p)),
    canAny: (principal: PermissionHolder | null | undefined, list: NonEmpty<P>) => list.some((p) => holds(principal, p)),
    includes: (value: unknown): value is P => typeof value === 'string' && known.has(value),
  });
}
