/** The HMAC path of the strict verifier on tokens that differ from a valid one in ways a byte-level shortcut could miss (src/tokens/jws.ts). */
import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { AuthError } from '../../../src/index.js';
import { TokenCodec } from '../../../src/tokens/token-codec.js';
import type { JwtSettings } from '../../../src/tokens/token-settings.js';

const settings = (secret: string): JwtSettings => ({
  secret,
  algorithms: ['HS256'],
  accessTokenTtl: 900,
  refreshTokenTtl: 3600,
  clockTolerance: 0,
  maxTokenLength: 65536,
  maxTokenLifetime: 86400,
});
const codec = new TokenCodec(settings('a-test-secret-that-is-long-enough-for-hs256'));
const claims = { sub: '42', username: 'ada', sid: 's1', permissions: ['articles:read'] };
const outcome = (token: string, on = codec): string => {
  try {
    return `ok ${on.verify(token, 'access').sub}`;
  } catch (err) {
    return err instanceof AuthError ? `${err.code}: ${err.reason}` : `threw ${(err as Error).message}`;
  }
};
const parts = (token: string) => token.split('.');

describe('TokenCodec.verify, HS256', () => {
  it('accepts what it issued, again and again (the remembered header), and under a second key', () => {
    const token = codec.issue(claims, 'access').token;
    expect(outcome(token)).toBe('ok 42');
    expect(outcome(token)).toBe('ok 42');
    const other = new TokenCodec(settings('another-secret-that-is-long-enough-for-hs256'));
    const theirs = other.issue(claims, 'access').token;
    expect(outcome(theirs, other)).toBe('ok 42');
    expect(outcome(theirs)).toMatch(/^token_invalid/);
    expect(outcome(token, other)).toMatch(/^token_invalid/);
    expect(outcome(token)).toBe('ok 42');
  });

  it('refuses a signature character replaced by one beyond ASCII or latin1 whose low byte is the right one', () => {
    const token = codec.issue(claims, 'access').token;
    expect(outcome(token)).toBe('ok 42');
    for (const at of [token.length - 1, token.lastIndexOf('.') + 1, token.length - 20]) {
      const c = token.charCodeAt(at);
      for (const high of [0x100, 0x4100, 0xff00]) {
        const forged = token.slice(0, at) + String.fromCharCode(high | c) + token.slice(at + 1);
        expect(outcome(forged)).toBe('token_invalid: Bad signature');
      }
      expect(outcome(token.slice(0, at) + String.fromCharCode(0x80 | c) + token.slice(at + 1))).toBe('token_invalid: Bad signature');
    }
    // A character too many (ASCII or not) or too few.
    expect(outcome(`${token}A`)).toBe('token_invalid: Bad signature');
    expect(outcome(`${token}\u0100`)).toBe('token_invalid: Bad signature');
    expect(outcome(token.slice(0, -1))).toBe('token_invalid: Bad signature');
    expect(outcome(`${token.slice(0, -1)}\ud83d\ude00`)).toBe('token_invalid: Bad signature');
  });

  it('refuses a header that only starts with the remembered one, or is it with a character changed', () => {
    const token = codec.issue(claims, 'access').token;
    expect(outcome(token)).toBe('ok 42');
    const [header, payload, signature] = parts(token);
    for (const forged of [
      `${header}AA.${payload}.${signature}`,
      `${header.slice(0, -1)}.${payload}.${signature}`,
      `${header.slice(0, -1)}\u0100.${payload}.${signature}`,
      `${header.slice(0, -1)}${String.fromCharCode(header.charCodeAt(header.length - 1) ^ 1)}.${payload}.${signature}`,
    ])
      expect(outcome(forged)).toMatch(/^token_invalid/);
    expect(outcome(token)).toBe('ok 42');
  });

  it('refuses a payload that is not canonical base64url before any signature is looked at', () => {
    const token = codec.issue(claims, 'access').token;
    const [header, payload, signature] = parts(token);
    for (const bad of [
      `${payload}=`,
      `${payload.slice(0, 10)}+${payload.slice(11)}`,
      `${payload.slice(0, 10)}\u00e9${payload.slice(11)}`,
      // Trailing bits set (when the length leaves some): another spelling of the same bytes.
      ...(payload.length % 4 === 0 ? [] : [`${payload.slice(0, -1)}${payload.endsWith('B') ? 'C' : 'B'}`]),
      // A length no base64 has (4n + 1).
      `${payload}${'A'.repeat((5 - (payload.length % 4)) % 4 || 4)}`,
    ]) {
      expect(outcome(`${header}.${bad}.${signature}`)).toBe('token_invalid: Malformed token');
    }
  });

  it('verifies long tokens (past the first scratch buffers), then short ones again', () => {
    const long = codec.issue({ ...claims, note: 'n'.repeat(6000), permissions: Array.from({ length: 300 }, (_, i) => `p${i}`) }, 'access');
    expect(long.token.length).toBeGreaterThan(8000);
    expect(codec.verify(long.token, 'access')).toEqual(long.claims);
    const short = codec.issue(claims, 'access');
    expect(codec.verify(short.token, 'access')).toEqual(short.claims);
  });
});
