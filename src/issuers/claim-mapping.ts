/** A claim path or a function of the verified claims, as `claims.*` of a trusted issuer takes them. */
export type ClaimsOf<T> = (claims: Record<string, unknown>) => T;

/** What `claims` of a trusted issuer maps the verified claims to. */
export interface TrustedIssuerClaims {
  /** Claim paths whose values are unioned, or a function: `'scope'`, `['realm_access.roles', 'resource_access.api.roles']`. */
  permissions?: string | string[] | ClaimsOf<string[]>;
  /** A path to a string claim (`preferred_username`), or a function. */
  username?: string | ClaimsOf<string | undefined>;
  /** A path to a boolean claim (true only when it is `true`), or a predicate. */
  isStaff?: string | ClaimsOf<boolean>;
  isSuperuser?: string | ClaimsOf<boolean>;
  /**
   * The app's permissions for each word the permissions source yields (a role, group or scope of the provider):
   * `{ 'orders-admin': ['orders:read', 'orders:write'], 'orders-viewer': 'orders:read' }`. With it a word the map
   * does not name grants nothing, and what the issuer can grant is known (`assertPermissionsInCatalog` checks it).
   */
  permissionMap?: Readonly<Record<string, string | readonly string[]>>;
}

/** The mapping, compiled once at boot: four functions of the claims, and what the permissions can be when that is known. */
export interface ClaimMapping {
  permissions: ClaimsOf<string[]>;
  username: ClaimsOf<string | undefined>;
  isStaff: ClaimsOf<boolean>;
  isSuperuser: ClaimsOf<boolean>;
  /** Every permission the mapping can yield, or undefined when the provider's claims decide (paths or a function without a map). */
  grantable: readonly string[] | undefined;
}

/**
 * The value at a dotted path. A claim name may itself hold dots (Auth0's
 * namespaced `https://example.com/roles`) or colons (`cognito:groups`): at
 * each level the longest run of segments that names an own member wins.
 */
export function claimAt(claims: unknown, path: string): unknown {
  return walk(claims, path.split('.'), 0);
}

function walk(value: unknown, segments: readonly string[], from: number): unknown {
  if (from === segments.length) return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  for (let to = segments.length; to > from; to--) {
    const name = segments.slice(from, to).join('.');
    if (Object.prototype.hasOwnProperty.call(value, name)) {
      const found = walk((value as Record<string, unknown>)[name], segments, to);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * The permissions a claim value yields: a string, one per space-separated
 * word (`scope`, `scp`); an array, its strings; an object, its member names
 * (Zitadel's roles claim maps each role to the organisations granting it).
 */
export function wordsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter((w) => w.length > 0);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v.length > 0);
  if (typeof value === 'object' && value !== null) return Object.keys(value);
  return [];
}

/** The union of the words at each path, in first-seen order. */
export function permissionsFrom(paths: readonly string[]): ClaimsOf<string[]> {
  return (claims) => {
    if (paths.length === 1) return [...new Set(wordsOf(claimAt(claims, paths[0]!)))];
    const out = new Set<string>();
    for (const path of paths) for (const word of wordsOf(claimAt(claims, path))) out.add(word);
    return [...out];
  };
}

export function stringAt(path: string): ClaimsOf<string | undefined> {
  return (claims) => {
    const value = claimAt(claims, path);
    return typeof value === 'string' && value.length > 0 ? value : undefined;
  };
}

export function trueAt(path: string): ClaimsOf<boolean> {
  return (claims) => claimAt(claims, path) === true;
}

export const NO_PERMISSIONS: ClaimsOf<string[]> = () => [];
export const NO_USERNAME: ClaimsOf<string | undefined> = () => undefined;
export const NEVER: ClaimsOf<boolean> = () => false;

/**
 * `permissions` through a `permissionMap`: each word the source yields becomes the app's permissions the map gives
 * it; a word the map does not name yields none. The map is copied into a Map, so a word such as `constructor` or
 * `__proto__` is only ever a key, never a member inherited by a plain object.
 */
export function mappedPermissions(source: ClaimsOf<string[]>, map: ReadonlyMap<string, readonly string[]>): ClaimsOf<string[]> {
  return (claims) => {
    const out = new Set<string>();
    const words = source(claims);
    if (Array.isArray(words)) for (const word of words) for (const permission of map.get(word) ?? []) out.add(permission);
    return [...out];
  };
}
