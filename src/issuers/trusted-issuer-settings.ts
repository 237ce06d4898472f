import type { AuthClock } from '../clock/auth-clock.js';
import type { ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** What `TrustedIssuers` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface TrustedIssuerSettings {
  jwt: { clockTolerance: number; maxTokenLength: number; verifiedTokenCacheMb: number };
  trustedIssuers: readonly ResolvedTrustedIssuer[];
  issuesTokens: boolean;
  clock: AuthClock;
}
