import type { KeyObject } from 'node:crypto';
import type { Type } from '@nestjs/common';
import type { AuditSink } from './audit/audit-event.js';
import type { CookiesOptions, ResolvedCookieOptions } from './cookies/cookie.options.js';
import type { RevocationStore } from './revocation/revocation-store.js';
import type { JwsAlgorithm, JwtKeyOptions } from './tokens/token.types.js';
import type { PasswordHasher, UserProvider } from './users/user.types.js';

export interface JwtOptions {
  /** HMAC secret for HS256/384/512 (at least 32 bytes, and at least the hash size). */
  secret?: string | Buffer | KeyObject;
  /** PEM or KeyObject for RS*, PS*, ES*, EdDSA. */
  privateKey?: string | Buffer | KeyObject;
  publicKey?: string | Buffer | KeyObject;
  /** Key ring for rotation: signs with the first, verifies with any (by `kid`). */
  keys?: JwtKeyOptions[];
  /** Allowed algorithms [['HS256']]; `none` is refused. */
  algorithms?: JwsAlgorithm[];
  issuer?: string;
  audience?: string | string[];
  /** Seconds [900]. */
  accessTokenTtl?: number;
  /** Seconds [1209600 = 14 days], counted from login. */
  refreshTokenTtl?: number;
  /** Count `refreshTokenTtl` from the last refresh instead of from login [false]. */
  slidingSessions?: boolean;
  /** Seconds [0]. */
  refreshReuseGraceSeconds?: number;
  /** Seconds of leeway for exp/nbf/iat [0]. */
  clockTolerance?: number;
  /** Header that carries the token ['authorization']. */
  header?: string;
  /** Longest token accepted, in characters, checked before any parsing [8192]. */
  maxTokenLength?: number;
  /** Longest `exp - iat` accepted on a verified token, in seconds [max(accessTokenTtl, refreshTokenTtl)... see docs]. */
  maxTokenLifetime?: number;
}

export type StoreOption = 'memory' | 'typeorm' | { type: 'typeorm'; dataSource?: string };

export interface RevocationOptions {
  store?: RevocationStore;
  /** [1000] */
  syncIntervalMs?: number;
  /** ['cached'] */
  consistency?: 'cached' | 'strict';
}

export interface ApiKeysOptions {
  enabled: boolean;
  /** ['x-api-key'] */
  header?: string;
  /** Server-side secret mixed into the stored key hash; at least 32 bytes. Without it, one is derived from the JWT secret or generated per store. */
  pepper?: string | Buffer;
}

export interface AuthModuleOptions {
  jwt: JwtOptions;
  users?: Type<UserProvider> | UserProvider;
  passwordHasher?: PasswordHasher;
  store?: StoreOption;
  revocation?: RevocationOptions;
  apiKeys?: ApiKeysOptions;
  /** Register the guard as APP_GUARD [true]. */
  globalGuard?: boolean;
  publicRoutes?: { invalidToken?: 'ignore' | 'reject' };
  /** Where audit events go [one structured line per event through Nest's Logger]. */
  audit?: AuditSink;
  /** Serve the public keys as a JWK Set: `true` for `/.well-known/jwks.json`, or a path [off]. */
  jwksRoute?: boolean | string;
  /** Carry the session in httpOnly cookies for browsers, with CSRF protection [off]. */
  cookies?: CookiesOptions;
}

/** `jwt` after defaults: what the key ring and the verifier are built from. */
export interface ResolvedJwtOptions {
  secret?: string | Buffer | KeyObject;
  privateKey?: string | Buffer | KeyObject;
  publicKey?: string | Buffer | KeyObject;
  keys?: JwtKeyOptions[];
  algorithms: JwsAlgorithm[];
  issuer?: string;
  audience?: string | string[];
  accessTokenTtl: number;
  refreshTokenTtl: number;
  slidingSessions: boolean;
  refreshReuseGraceSeconds: number;
  clockTolerance: number;
  header: string;
  maxTokenLength: number;
  maxTokenLifetime: number;
}

export interface ResolvedAuthOptions {
  jwt: ResolvedJwtOptions;
  users?: Type<UserProvider> | UserProvider;
  passwordHasher?: PasswordHasher;
  store: { type: 'memory' } | { type: 'typeorm'; dataSource: string };
  revocation: { store?: RevocationStore; syncIntervalMs: number; consistency: 'cached' | 'strict' };
  apiKeys: { enabled: boolean; header: string; pepper?: string | Buffer };
  globalGuard: boolean;
  publicRoutes: { invalidToken: 'ignore' | 'reject' };
  audit?: AuditSink;
  cookies: ResolvedCookieOptions;
}
