import type { AuthClock } from '../clock/auth-clock.js';

/** What `RevocationService` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface RevocationSettings {
  jwt: { maxTokenLifetime: number };
  clock: AuthClock;
}
