/** The payload decoder of the HS256 path against the decoder every other segment goes through (src/tokens/base64url.ts). */
import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { AuthError } from '../../../src/index.js';
import { checkSegment, decodeSegment, decodeSegmentLatin1 } from '../../../src/tokens/base64url.js';

const verdict = (fn: () => string): string => {
  try {
    return `ok ${fn()}`;
  } catch (err) {
    return err instanceof AuthError ? `refused ${err.code}` : `threw ${(err as Error).message}`;
  }
};
// checkSegment's verdict and decodeSegment's bytes (as latin1, one character a byte) beside the round trip's.
const agree = (segment: string) =>
  expect([segment, verdict(() => decodeSegmentLatin1(segment))]).toEqual([
    segment,
    verdict(() => {
      checkSegment(segment);
      return decodeSegment(segment).toString('latin1');
    }),
  ]);

describe('decodeSegmentLatin1 (no Buffer per call)', () => {
  it('refuses exactly what checkSegment refuses, and decodes the rest to the same bytes', () => {
    for (const segment of [
      '',
      'e',
      'eQ',
      'eR',
      'eQ=',
      'eQ==',
      'eyJ',
      'eyI',
      'eyJhIjoxfQ',
      'eyJhIjoxfR',
      'eyJhIjoxfQ=',
      'eyJh Ijoxf Q',
      'eyJh+joxfQ',
      'eyJh/joxfQ',
      'eyJh\u0149joxfQ',
      'eyJh\u00e9joxfQ',
      'eyJh\u0000joxfQ',
      '\u0101\u0102',
      'eyJhIjoxfQ\n',
      '====',
      'AAAA',
      '____',
      '----',
    ])
      agree(segment);
  });

  it('on generated segments: every length up to 12, the alphabet, the other alphabet, padding, spaces, non-ASCII', () => {
    const chars = ['A', 'Q', 'g', 'w', 'z', '0', '9', '-', '_', '+', '/', '=', ' ', '.', '\u00c1', '\u0141', '\ud83d'];
    let seed = 11;
    const random = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    for (let t = 0; t < 20_000; t++) {
      const n = random(13);
      let segment = '';
      // Mostly the plain alphabet, so that many are canonical and the rest differ in one place.
      for (let i = 0; i < n; i++) segment += random(4) === 0 ? chars[random(chars.length)] : chars[random(7)];
      agree(segment);
    }
  });

  it('decodes a segment longer than its first scratch buffer, and a short one after it', () => {
    const long = Buffer.from('x'.repeat(5000) + '\u00ff').toString('base64url');
    agree(long);
    agree('eyJhIjoxfQ');
    expect(decodeSegmentLatin1('eyJhIjoxfQ')).toBe('{"a":1}');
  });
});
