import type { ApiKeySettings } from '../api-keys/api-key-settings.js';
import type { AuditSettings } from '../audit/audit-settings.js';
import type { AuthenticationSettings } from '../authentication/authentication-settings.js';
import type { TrustedIssuerSettings } from '../issuers/trusted-issuer-settings.js';
import type { RevocationSettings } from '../revocation/revocation-settings.js';
import type { SessionSettings } from '../sessions/session-settings.js';
import type { StoreSettings } from '../store/store-settings.js';
import type { ResolvedLoginThrottleOptions } from '../throttle/login-throttle.options.js';
import type { JwtSettings, TokenIssuerSettings } from '../tokens/token-settings.js';
import type { UserSettings } from '../users/user-settings.js';
import type { ResolvedAuthOptions, ResolvedJwtOptions } from './auth-options.js';

/**
 * Each feature declares the narrow part of `AUTH_OPTIONS` it reads, in its own folder, so no feature imports this
 * one (options/ composes the features, not the other way round). These lines make the compiler check that the
 * resolved options satisfy every one of them: a feature that starts reading an option the resolver does not give
 * fails the type check here, not at run time.
 */
type Satisfies<Given extends Wanted, Wanted> = Given;

export type SettingsCheck = [
  Satisfies<ResolvedJwtOptions, JwtSettings>,
  Satisfies<ResolvedAuthOptions, TokenIssuerSettings>,
  Satisfies<ResolvedAuthOptions, SessionSettings>,
  Satisfies<ResolvedAuthOptions, RevocationSettings>,
  Satisfies<ResolvedAuthOptions, UserSettings>,
  Satisfies<ResolvedAuthOptions, AuditSettings>,
  Satisfies<ResolvedAuthOptions, ApiKeySettings>,
  Satisfies<ResolvedAuthOptions, AuthenticationSettings>,
  Satisfies<ResolvedAuthOptions, TrustedIssuerSettings>,
  Satisfies<ResolvedAuthOptions, StoreSettings>,
  Satisfies<ResolvedAuthOptions, { loginThrottle: ResolvedLoginThrottleOptions }>,
];
