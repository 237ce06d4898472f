import type { AuthClock } from '../clock/auth-clock.js';

/** What `Authenticator` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface AuthenticationSettings {
  jwt: { clockTolerance: number; maxTokenLength: number; verifiedTokenCacheMb: number };
  clock: AuthClock;
}
