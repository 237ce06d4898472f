/** The strict JSON parser of token segments (src/tokens/strict-json.ts). */
import 'reflect-metadata';
import { describe, expect, it, test } from '@jest/globals';
import { AuthError } from '../../../src/index.js';
import { parseJsonObject } from '../../../src/tokens/strict-json.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'passed';
  } catch (err) {
    return err instanceof AuthError ? `${err.code}:${err.reason}` : (err as Error).message;
  }
};

describe('the strict JSON parser', () => {
  const parse = (text: string | Uint8Array) => codeOf(() => parseJsonObject(typeof text === 'string' ? Buffer.from(text) : text));
  test.each<[string, string]>([
    ['{"a":1}', 'passed'],
    ['{"a":1,"a":2}', 'token_invalid'],
    ['[]', 'token_invalid'],
    ['"x"', 'token_invalid'],
    ['{"a":', 'token_invalid'],
    ['{"a":' + '['.repeat(100) + ']'.repeat(100) + '}', 'token_invalid'],
  ])('%s → %s', (text, expected) => {
    expect(parse(text).split(':')[0]).toBe(expected);
  });
  test('invalid UTF-8 is refused', () => {
    expect(parse(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])).split(':')[0]).toBe('token_invalid');
  });
});

const parse = (text: string | Buffer) => parseJsonObject(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
const refused = (text: string | Buffer) => expect(() => parse(text)).toThrow(expect.objectContaining({ code: 'token_invalid' }));

describe('parseJsonObject (the strict JSON of headers and claims)', () => {
  it('parses an object, with strings that hold quotes, braces, commas and escapes', () => {
    expect(parse('{"a":"x\\"}{,[","b":[1,{"c":"]"}],"d\\"e":2,"u":"é"}')).toEqual({ a: 'x"}{,[', b: [1, { c: ']' }], 'd"e': 2, u: 'é' });
  });

  it('refuses a member name twice at the top level, however it is spelled', () => {
    refused('{"sub":"1","sub":"2"}');
    refused('{"sub":"1","\\u0073ub":"2"}');
    refused('{"__proto__":1,"__proto__":2}');
    refused('{"a":[1,2],"b":{},"a":3}');
  });

  it('refuses a member name twice in a nested object, and accepts the same name in sibling objects', () => {
    refused('{"n":{"a":1,"a":2}}');
    refused('{"n":{"a":1,"\\u0061":2}}');
    refused('{"n":[{"a":1},{"b":1,"b":2}]}');
    expect(parse('{"a":{"a":1},"b":{"a":2},"c":[{"a":3}]}')).toEqual({ a: { a: 1 }, b: { a: 2 }, c: [{ a: 3 }] });
  });

  it('accepts 32 levels of nesting and refuses 33, with arrays or objects', () => {
    const arrays = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;
    expect(() => parse(arrays(32))).not.toThrow();
    refused(arrays(33));
    const objects = (n: number) => `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`;
    expect(() => parse(objects(32))).not.toThrow();
    refused(objects(33));
  });

  it('refuses what is not a UTF-8 JSON object', () => {
    refused('[1]');
    refused('"a"');
    refused('null');
    refused('{"a":1');
    refused(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
  });
});
