import { describe, expect, it } from '@jest/globals';
import { parseJsonObject } from '../../src/tokens/strict-json.js';

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
