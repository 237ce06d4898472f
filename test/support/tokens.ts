/**
 * Hand-made tokens for the refusal tests: the signature is computed here, not
 * by the module, so a test can choose every byte of the header and payload.
 */
import { createHmac, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { SECRET } from './app.js';

export const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims an access token needs (sub '1', a fresh jti, 60 s of life), with overrides. */
export const accessClaims = (extra: Record<string, unknown> = {}) => {
  const now = nowSeconds();
  return { sub: '1', jti: `j-${Math.random()}`, iat: now, exp: now + 60, ...extra };
};

/** The access-token header (HS256, typ at+jwt), with overrides. */
export const accessHeader = (extra: Record<string, unknown> = {}) => ({ alg: 'HS256', typ: 'at+jwt', ...extra });

/** HS256 over raw header and payload text (duplicate keys, odd numbers, non-JSON): the signature is right, so only the other checks can refuse. */
export function signText(headerJson: string | Buffer, payloadJson: string | Buffer, secret: string | Buffer = SECRET): string {
  const input = `${b64url(headerJson)}.${b64url(payloadJson)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const HMAC: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * A compact JWS of the header and claims, signed for the header's `alg`:
 * HS256/384/512 with a secret (the app's by default), RS256 or ES256 with a
 * private KeyObject (ES256 as RFC 7518's raw r||s unless `dsaEncoding: 'der'`).
 */
export function forgeToken(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: string | Buffer | KeyObject = SECRET,
  dsaEncoding: 'der' | 'ieee-p1363' = 'ieee-p1363',
): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const alg = String(header.alg);
  if (HMAC[alg])
    return `${input}.${createHmac(HMAC[alg], key as string | Buffer)
      .update(input)
      .digest('base64url')}`;
  if (alg !== 'RS256' && alg !== 'ES256') throw new Error(`forgeToken: no signer for alg ${alg}`);
  const privateKey = key as KeyObject;
  const signature = cryptoSign('sha256', Buffer.from(input), alg === 'ES256' ? { key: privateKey, dsaEncoding } : privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** An access token with the default header and claims plus overrides, signed with `key` (the app's secret by default). */
export const forgeAccessToken = (
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key: string | Buffer | KeyObject = SECRET,
) => forgeToken(accessHeader(header), accessClaims(claims), key);
