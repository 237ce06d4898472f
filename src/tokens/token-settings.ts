import type { KeyObject } from 'node:crypto';
import type { AuthClock } from '../clock/auth-clock.js';
import type { JwsAlgorithm, JwtKeyOptions } from './token.types.js';

/**
 * The `jwt` options the key ring and the codec read, after defaults. Declared here, so tokens/ never imports the
 * options folder (which composes the features); options/ checks at compile time that its resolved `jwt` satisfies it.
 */
export interface JwtSettings {
  secret?: string | Buffer | KeyObject;
  privateKey?: string | Buffer | KeyObject;
  publicKey?: string | Buffer | KeyObject;
  keys?: JwtKeyOptions[];
  algorithms: JwsAlgorithm[];
  issuer?: string;
  audience?: string | string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
  clockTolerance: number;
  maxTokenLength: number;
  maxTokenLifetime: number;
}

/** What `TokenIssuer` reads of the module's options (injected as `AUTH_OPTIONS`). */
export interface TokenIssuerSettings {
  jwt: JwtSettings;
  clock: AuthClock;
  /** False with `trustedIssuers` and no `jwt`: issuing is off. */
  issuesTokens: boolean;
}
