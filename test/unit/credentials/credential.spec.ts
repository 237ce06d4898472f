/** The credential parsers (src/credentials): bearer headers, token and API key headers. */
import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { bearerTokenOf, rawTokenOf } from '../../../src/credentials/bearer.js';
import { apiKeyHeaderSource, readCredential, tokenHeaderSource } from '../../../src/credentials/credential.js';
import { AuthError } from '../../../src/index.js';
import type { Carrier } from '../../../src/call/carrier.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'passed';
  } catch (err) {
    return err instanceof AuthError ? `${err.code}:${err.reason}` : (err as Error).message;
  }
};

describe('credential parsers', () => {
  test.each<[unknown, string]>([
    [undefined, 'none'],
    ['', 'none'],
    ['Basic abc', 'none'],
    ['Bearerx abc', 'none'],
    ['Bearer abc', 'abc'],
    ['bearer    abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer', 'token_invalid:bearer_without_token'],
    ['Bearer    ', 'token_invalid:bearer_without_token'],
    ['Bearer a b', 'token_invalid:more_than_one_token'],
    ['Bearer\tabc', 'token_invalid:malformed_authorization_header'],
    [['Bearer a', 'Bearer b'], 'token_invalid:malformed_authorization_header'],
  ])('bearerTokenOf(%j) → %s', (value, expected) => {
    let got: string;
    try {
      got = bearerTokenOf(value) ?? 'none';
    } catch (err) {
      got = `${(err as AuthError).code}:${(err as AuthError).reason}`;
    }
    expect(got).toBe(expected);
  });

  test('rawTokenOf refuses whitespace and non-strings', () => {
    expect(rawTokenOf('abc')).toBe('abc');
    expect(codeOf(() => rawTokenOf('a b'))).toBe('token_invalid:malformed_token_header');
    expect(codeOf(() => rawTokenOf(['a']))).toBe('token_invalid:malformed_token_header');
  });

  test('readCredential: at most one credential, never a guess', () => {
    const sources = [tokenHeaderSource('authorization'), apiKeyHeaderSource('x-api-key')];
    const carrier = (headers: Record<string, unknown>): Carrier => ({ type: 'http', target: {}, headers, response: undefined });
    expect(readCredential(sources, carrier({}))).toBeUndefined();
    expect(readCredential(sources, carrier({ authorization: 'Bearer t' }))).toEqual({ kind: 'bearer', token: 't' });
    expect(readCredential(sources, carrier({ 'x-api-key': 'k' }))).toEqual({ kind: 'api_key', key: 'k' });
    expect(codeOf(() => readCredential(sources, carrier({ authorization: 'Bearer t', 'x-api-key': 'k' })))).toBe(
      'token_invalid:ambiguous_credentials',
    );
    expect(codeOf(() => readCredential(sources, carrier({ 'x-api-key': ['a', 'b'] })))).toBe('api_key_invalid:malformed_api_key_header');
  });
});
