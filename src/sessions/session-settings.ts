import type { AuthClock } from '../clock/auth-clock.js';

/**
 * What `SessionService` reads of the module's options (injected as `AUTH_OPTIONS`), declared here so sessions/
 * never imports the options folder; options/ checks at compile time that the resolved options satisfy it.
 */
export interface SessionSettings {
  jwt: { refreshTokenTtl: number; slidingSessions: boolean; refreshReuseGraceSeconds: number; clockTolerance: number };
  clock: AuthClock;
}
