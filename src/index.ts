// The public surface of @democrai/nest-auth (listed in the README's "Public surface", held by test/surface/exports.spec.ts).
// Nothing else is part of the contract: a name is here because an app uses it, implements it or passes it in its options.
export { AuthModule, type AuthModuleAsyncOptions, type AuthModuleForRootOptions } from './auth.module.js';
export type {
  AuthModuleOptions,
  AuthModuleExtras,
  AuthClock,
  JwtOptions,
  StoreOption,
  CacheStoreOptions,
  StoresOptions,
  RevocationOptions,
  ApiKeysOptions,
} from './options/auth-options.js';
export { AuthService, type TokenPair, type AccessTokenClaims, type SessionInfo } from './auth.service.js';

export { Public } from './decorators/public.decorator.js';
export { PermissionRequired, type PermissionRequiredOptions } from './decorators/permission-required.decorator.js';
export { StaffOnly } from './decorators/staff-only.decorator.js';
export { SuperuserOnly } from './decorators/superuser-only.decorator.js';
export { CurrentUser, AuthContext } from './decorators/current-user.decorator.js';
export type { AuthContextData, AuthPrincipal } from './context/auth-context.js';
// The README's "credential source" extension point: what a source reads from (the call's carrier) and returns.
export type { Credential, CredentialSource } from './credentials/credential.js';
export type { Carrier } from './call/carrier.js';
// Trusted issuers (#26): tokens of the identity providers the app trusts.
export type { TrustedIssuerOptions } from './issuers/trusted-issuer.options.js';
export type { TrustedIssuerClaims } from './issuers/claim-mapping.js';
export type { TrustedIssuerPreset } from './issuers/presets.js';

export { NestAuthGuard, JwtAuthGuard } from './guard/auth.guard.js';
export { JwtStrategy } from './passport/jwt.strategy.js';
export { RoutePolicyService, type RouteEntry } from './authorization/route-policy.service.js';
export type { RoutePolicy } from './authorization/route-policy.js';

export { AuthError, AuthConfigError, type AuthErrorCode } from './errors/auth-error.js';
export type { AuthErrorBody } from './errors/http-exception.js';
export { AUTH_ERROR_MESSAGES, AUTH_ERROR_STATUS } from './errors/messages.js';

export type { UserProvider, AuthUserRecord, PasswordHasher } from './users/user.types.js';
export { Argon2PasswordHasher, type Argon2Params } from './users/argon2-password-hasher.js';
export { PASSWORD_HASHER } from './users/auth-users.js';
export { LoginDto } from './login/login.dto.js';
export { RefreshTokenDto } from './sessions/refresh-token.dto.js';

export { SESSION_STORE, REVOCATION_STORE, USER_CUTOFF_STORE, API_KEY_STORE } from './store/auth-stores.js';
export type { SessionStore, SessionRecord, NewSession } from './sessions/session-store.js';
export type { RevocationStore, UserCutoffStore } from './revocation/revocation-store.js';
export type { ApiKeyStore, ApiKeyRecord, ApiKeyInfo } from './api-keys/api-key.types.js';
export { InMemoryRevocationStore } from './revocation/in-memory-revocation.store.js';
export { TypeOrmRevocationStore } from './revocation/typeorm-revocation.store.js';
export { authEntities } from './store/entities.js';
export { authMigrations } from './migrations/index.js';

export { ApiKeyService } from './api-keys/api-key.service.js';

export type { AuditEvent, AuditEventType, AuditSink } from './audit/audit-event.js';
export type { JwsAlgorithm, JwtKeyOptions } from './tokens/token.types.js';

// Typed permissions and the route policy table (kit, #15). Subpaths: ./swagger (OpenAPI), ./testing (test helpers).
export {
  definePermissions,
  type PermissionCatalog,
  type TypedPermissionRequired,
  type PermissionHolder,
  type NonEmpty,
} from './decorators/define-permissions.js';
export { printRouteTable, formatRouteTable, describeAccess, assertPermissionsInCatalog } from './authorization/route-table.js';
export { collectRoutes, type AuthRoute } from './authorization/collect-routes.js';

// Login protection (#12): failed-login limits on a shared store, the bounded password-check queue.
export { LoginThrottle } from './throttle/login-throttle.js';
export { SkipLoginThrottle } from './decorators/skip-login-throttle.decorator.js';
export { THROTTLE_STORE, type ThrottleStore, type ThrottleHit } from './throttle/throttle-store.js';
export { InMemoryThrottleStore } from './throttle/in-memory-throttle.store.js';
export { RedisThrottleStore } from './throttle/redis-throttle.store.js';
export type { LoginThrottleOptions, ThrottleLimit } from './throttle/login-throttle.options.js';
export type { DeviceCookieOptions } from './throttle/device-cookie.js';
export type { ClientAddressReader } from './throttle/client-address.js';
export { TooManyAttemptsException, AuthBusyException } from './throttle/throttle-errors.js';

// Revocation push channels (#16) and bounded stores.
export {
  REVOCATION_CHANNEL,
  type RevocationChannel,
  type RevocationChannelStartOptions,
  type RevocationEvent,
  type RevocationChannelListener,
} from './revocation/revocation-channel.js';
export { PostgresRevocationChannel } from './revocation/postgres-revocation.channel.js';
export { RedisRevocationChannel } from './revocation/redis-revocation.channel.js';
export type { RevocationChannelOption } from './revocation/resolve-channel.js';
// DPoP and introspection for trusted issuers (#26 items 6, 7).
export type { TrustedIssuerDpopOptions, TrustedIssuerIntrospectionOptions } from './issuers/trusted-issuer.options.js';
export type { DpopRedisLike } from './dpop/dpop-replay.store.js';
