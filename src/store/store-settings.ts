import type { AuthClock } from '../clock/auth-clock.js';
import type { ApiKeyStore } from '../api-keys/api-key.types.js';
import type { RevocationStore, UserCutoffStore } from '../revocation/revocation-store.js';
import type { SessionStore } from '../sessions/session-store.js';

/** What `AuthStores` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface StoreSettings {
  store:
    | { type: 'memory' }
    | { type: 'typeorm'; dataSource: string }
    | { type: 'cache'; keyPrefix: string; sessions: 'memory' | 'typeorm'; dataSource: string };
  stores: { sessions?: SessionStore; revocations?: RevocationStore; cutoffs?: UserCutoffStore; apiKeys?: ApiKeyStore };
  revocation: { storeTimeoutMs: number };
  jwt: { maxTokenLifetime: number; clockTolerance: number };
  clock: AuthClock;
}
