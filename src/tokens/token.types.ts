import type { KeyObject } from 'node:crypto';

export const JWS_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/** Access tokens follow RFC 9068; refresh tokens have a type of their own so neither passes for the other. */
export type TokenKind = 'access' | 'refresh';
export const TOKEN_TYP: Readonly<Record<TokenKind, string>> = { access: 'at+jwt', refresh: 'refresh+jwt' };

/** A key as the options give it (`jwt.keys[]`, or built from `jwt.secret` / `jwt.privateKey` / `jwt.publicKey`). */
export interface JwtKeyOptions {
  kid?: string;
  algorithm: JwsAlgorithm;
  secret?: string | Buffer | KeyObject;
  privateKey?: string | Buffer | KeyObject;
  publicKey?: string | Buffer | KeyObject;
}

/** Claims of a token that passed every check. */
export interface VerifiedClaims {
  sub: string;
  jti: string;
  iat: number;
  exp: number;
  nbf?: number;
  sid?: string;
  iss?: string;
  aud?: string | string[];
  [claim: string]: unknown;
}

export interface IssuedToken {
  token: string;
  claims: VerifiedClaims;
}
