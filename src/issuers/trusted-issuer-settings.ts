import type { AuthClock } from '../clock/auth-clock.js';
import type { ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** What `TrustedIssuers` reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface TrustedIssuerSettings {
  jwt: { clockTolerance: number; maxTokenLength: number; verifiedTokenCacheMb: number };
  trustedIssuers: readonly ResolvedTrustedIssuer[];
  issuesTokens: boolean;
  clock: AuthClock;
  /** Where the DPoP replay store lives when no Redis is given for it: the module's store, bounded like it. */
  store:
    | { type: 'memory' }
    | { type: 'typeorm'; dataSource: string }
    | { type: 'cache'; keyPrefix: string; sessions: 'memory' | 'typeorm'; dataSource: string };
  revocation: { storeTimeoutMs: number };
}
