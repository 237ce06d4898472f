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
}

/** The mapping, compiled once at boot: four functions of the claims. */
export interface ClaimMapping {
  permissions: ClaimsOf<string[]>;
  username: ClaimsOf<string | undefined>;
  isStaff: ClaimsOf<boolean>;
  isSuperuser: ClaimsOf<boolean>;
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
