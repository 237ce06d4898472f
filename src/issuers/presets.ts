import { claimAt, mappedPermissions, permissionsFrom, stringAt, wordsOf, type ClaimMapping, type ClaimsOf } from './claim-mapping.js';

export const PRESET_NAMES = ['keycloak', 'auth0', 'cognito', 'entra', 'zitadel', 'google'] as const;
export type TrustedIssuerPreset = (typeof PRESET_NAMES)[number];

/** The defaults a preset gives; anything the issuer entry sets itself wins. */
export interface PresetDefaults {
  permissions: ClaimsOf<string[]>;
  username: ClaimsOf<string | undefined>;
  /** Claims that carry the audience, in order (Cognito's access tokens have `client_id` and no `aud`). */
  audienceClaims?: readonly string[];
  /** Claims that must hold exactly this value (Cognito's `token_use: 'access'`, so an ID token is refused). */
  requiredClaims?: Readonly<Record<string, string>>;
  /** What the preset's permissions can be, when its layout fixes it (Google's tokens carry none); undefined: the provider's claims decide. */
  grantable?: readonly string[];
  /** A key set URL on another host, known from the provider's documentation (Google's). */
  jwksUri?: (issuer: string) => string | undefined;
}

/** The first non-empty string among these claims. */
function firstString(...paths: string[]): ClaimsOf<string | undefined> {
  const readers = paths.map(stringAt);
  return (claims) => {
    for (const read of readers) {
      const value = read(claims);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

/**
 * What each provider puts where, from its documentation (sources in the
 * README's presets table). Only layouts of access tokens, except Google,
 * whose access tokens are opaque: its JWTs are ID tokens (service-to-service
 * identity tokens, IAP), so the preset maps those.
 */
export function presetDefaults(name: TrustedIssuerPreset, audiences: readonly string[]): PresetDefaults {
  switch (name) {
    case 'keycloak':
      return {
        // Realm roles, the roles of this API's client(s) (its audience), and the granted scopes.
        permissions: (claims) => {
          const out = new Set<string>(wordsOf(claimAt(claims, 'scope')));
          for (const role of wordsOf(claimAt(claims, 'realm_access.roles'))) out.add(role);
          const resources = claims.resource_access;
          if (typeof resources === 'object' && resources !== null) {
            for (const client of audiences) {
              if (!Object.prototype.hasOwnProperty.call(resources, client)) continue;
              for (const role of wordsOf(claimAt((resources as Record<string, unknown>)[client], 'roles'))) out.add(role);
            }
          }
          return [...out];
        },
        username: stringAt('preferred_username'),
      };
    case 'auth0':
      // RBAC's `permissions` (with "Add Permissions in the Access Token") and the granted scopes.
      return { permissions: permissionsFrom(['permissions', 'scope']), username: firstString('nickname', 'email') };
    case 'cognito':
      return {
        permissions: permissionsFrom(['scope', 'cognito:groups']),
        username: stringAt('username'),
        audienceClaims: ['aud', 'client_id'],
        requiredClaims: { token_use: 'access' },
      };
    case 'entra':
      // App roles (`roles`) and delegated scopes (`scp`); v2 names the user `preferred_username`, v1 `upn`/`unique_name`.
      return { permissions: permissionsFrom(['roles', 'scp']), username: firstString('preferred_username', 'upn', 'unique_name') };
    case 'zitadel':
      return {
        permissions: permissionsFrom(['urn:zitadel:iam:org:project:roles', 'scope']),
        username: firstString('preferred_username', 'username'),
      };
    case 'google':
      return {
        permissions: () => [],
        grantable: [],
        username: stringAt('email'),
        // Google's discovery document names a key set on www.googleapis.com: another host, so it is configured, not taken.
        jwksUri: (issuer) =>
          issuer === 'https://accounts.google.com' || issuer === 'accounts.google.com' ? 'https://www.googleapis.com/oauth2/v3/certs' : undefined,
      };
  }
}

/**
 * The mapping of an issuer entry: its own `claims` first, then the preset's, then nothing; a `permissionMap` turns
 * whatever words that yields into the app's permissions, and makes what the issuer can grant known.
 */
export function mappingOf(
  explicit: Partial<Omit<ClaimMapping, 'grantable'>>,
  preset: PresetDefaults | undefined,
  permissionMap?: ReadonlyMap<string, readonly string[]>,
): ClaimMapping {
  const source = explicit.permissions ?? preset?.permissions ?? permissionsFrom(['scope']);
  // The words the source can yield, when its layout fixes them (a preset's); undefined: the provider's claims decide.
  const words = explicit.permissions === undefined ? preset?.grantable : undefined;
  let grantable = words;
  if (permissionMap !== undefined) {
    const granted = words === undefined ? [...permissionMap.values()] : words.map((word) => permissionMap.get(word) ?? []);
    grantable = [...new Set(granted.flat())];
  }
  return {
    permissions: permissionMap === undefined ? source : mappedPermissions(source, permissionMap),
    username: explicit.username ?? preset?.username ?? (() => undefined),
    isStaff: explicit.isStaff ?? (() => false),
    isSuperuser: explicit.isSuperuser ?? (() => false),
    grantable,
  };
}
