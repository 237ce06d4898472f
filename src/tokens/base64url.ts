import { AuthError } from '../errors/auth-error.js';

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes one segment of a compact JWS, refusing everything RFC 7515 §2
 * does not allow and Buffer.from() would silently accept: padding, spaces,
 * characters outside the URL-safe alphabet, a length that cannot be base64
 * (4n+1) and non-canonical trailing bits (two encodings of one value).
 */
export function decodeSegment(segment: string): Buffer {
  if (segment.length % 4 === 1 || !ALPHABET.test(segment)) throw new AuthError('token_invalid', 'Malformed token');
  const bytes = Buffer.from(segment, 'base64url');
  // Re-encoding is the cheapest complete test for canonical trailing bits.
  if (bytes.toString('base64url') !== segment) throw new AuthError('token_invalid', 'Malformed token');
  return bytes;
}
