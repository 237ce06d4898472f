import type { AuthClock } from '../clock/auth-clock.js';
import type { ResolvedConfiguredApiKey } from './configured-api-keys.js';

/** What `ApiKeyService` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface ApiKeySettings {
  apiKeys: { enabled: boolean; header: string; pepper?: string | Buffer; keys: ResolvedConfiguredApiKey[] };
  /** How long a looked-up key is trusted before the store is asked again. */
  revocation: { syncIntervalMs: number };
  clock: AuthClock;
}
