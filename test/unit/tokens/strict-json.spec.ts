/** The strict JSON parser of token segments (src/tokens/strict-json.ts). */
import 'reflect-metadata';
import { describe, expect, it, test } from '@jest/globals';
import { AuthError } from '../../../src/index.js';
import { parseJsonObject, parseJsonObjectLatin1 } from '../../../src/tokens/strict-json.js';

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

describe('parseJsonObject: the direct read of flat claims agrees with JSON.parse and the strict checks', () => {
  // A leading space is valid JSON and sends any text down the general path (JSON.parse, then the member
  // and depth checks): the same text with and without it must give the same verdict and the same object.
  const outcome = (text: string): unknown => {
    try {
      const value = parse(text);
      return {
        proto: Object.getPrototypeOf(value) === Object.prototype,
        keys: Object.keys(value),
        // -0 and 0 told apart, as JSON.parse tells them apart.
        json: JSON.stringify(value, (_k, v: unknown) => (Object.is(v, -0) ? '-0!' : v)),
        own: Object.getOwnPropertyNames(value).map((k) => [k, Object.getOwnPropertyDescriptor(value, k)!.writable]),
      };
    } catch (err) {
      return err instanceof AuthError ? `refused ${err.code}` : `threw ${(err as Error).message}`;
    }
  };
  const agree = (text: string) => expect([text, outcome(text)]).toEqual([text, outcome(` ${text}`)]);

  it('on tokens as issuers write them, and on near misses of them', () => {
    for (const text of [
      '{}',
      '{"sub":"100042","username":"user42","sid":"s0000012x","permissions":["articles:read","articles:write"],"jti":"abc_-DEF123","iat":1765000000,"exp":1765000900}',
      '{"alg":"HS256","typ":"at+jwt","kid":"k1"}',
      '{"crit":["b64"],"b64":false,"n":null,"t":true,"e":[]}',
      '{"a":-0,"b":0,"c":-12,"d":999999999999999,"e":9999999999999999,"f":1.5,"g":1e3,"h":01,"i":-,"j":-01}',
      '{"a":1,"a":2}',
      '{"__proto__":{"x":1}}',
      '{"__proto__":1}',
      '{"toString":"x","constructor":1,"hasOwnProperty":[]}',
      '{"123":"a","0":"b","x":"c","1":"d"}',
      '{"a":"x\\"y"}',
      '{"a":"\\u0041","\\u0061":1}',
      '{"a":"tab\there"}',
      '{"a":"del\u007f"}',
      '{"a":1,}',
      '{,}',
      '{"a":1}}',
      '{"a":1} ',
      '{"a" :1}',
      '{"a": 1}',
      '{"a":[ "x"]}',
      '{"a":["x",]}',
      '{"a":["x",1]}',
      '{"a":[["x"]]}',
      '{"a":{"b":"c"}}',
      '{"a":truex}',
      '{"a":nul}',
      '{"a":"b":"c"}',
      '{"a"}',
      '{"":""}',
      '{"a:b":"{}[],"}',
      '{"a',
      '{"a":"',
      '{"a":["',
    ])
      agree(text);
  });

  it('in sequences where each object starts with the names of the one before (the names it reuses)', () => {
    for (const text of [
      '{"sub":"1","iat":1,"exp":2}',
      '{"sub":"1","sub":"2"}',
      '{"sub":"1","iat":1,"iat":2}',
      '{"sub":"1","iat":1,"exp":2,"sub":"3"}',
      '{"sub":"1"}',
      '{"sub":"1","iat":1,"exp":2,"x":[]}',
      '{"sub":"1","iat":1,"exp":2,"x":[],"toString":1}',
      '{"subx":"1","iat":1}',
      '{"su":"1","iat":1}',
      '{"sub":"1","iat":1,"exp":2,"x":[]}',
      '{"sub" :"1"}',
      '{"sub":"1","iat":1,"exp":2,"x":[]}',
      '{"sub":"1","__proto__":1}',
    ])
      agree(text);
  });

  it('on generated objects: names repeated, odd values, odd spellings', () => {
    const names = ['sub', 'iat', 'a', '__proto__', 'toString', '0', '12', '', 'x"y', 'p\\q'];
    const values = [
      '"v"',
      '""',
      '"a b"',
      '"é"',
      '"\\n"',
      '0',
      '-0',
      '7',
      '-15',
      '1.0',
      '2e2',
      '0012',
      'true',
      'false',
      'null',
      '[]',
      '["a","b"]',
      '["a",2]',
      '{}',
      '{"k":"v"}',
      '"\u0001"',
    ];
    let seed = 7;
    const random = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % k;
    };
    for (let t = 0; t < 3000; t++) {
      const members = Array.from({ length: random(5) }, () => `"${names[random(names.length)]}":${values[random(values.length)]}`);
      agree(`{${members.join(',')}}`);
    }
  });
});

describe('parseJsonObjectLatin1 (the bytes as a latin1 string) agrees with parseJsonObject on the bytes', () => {
  const outcome = (fn: () => Record<string, unknown>): unknown => {
    try {
      const value = fn();
      return { keys: Object.keys(value), json: JSON.stringify(value), proto: Object.getPrototypeOf(value) === Object.prototype };
    } catch (err) {
      return err instanceof AuthError ? `refused ${err.code}: ${err.message}` : `threw ${(err as Error).message}`;
    }
  };
  const agree = (bytes: Buffer) =>
    expect(outcome(() => parseJsonObjectLatin1(bytes.toString('latin1')))).toEqual(outcome(() => parseJsonObject(bytes)));

  it('on ASCII, UTF-8 beyond ASCII (flat-looking or not), invalid UTF-8, control characters and DEL', () => {
    for (const text of [
      '{"sub":"1","iat":1,"exp":2}',
      '{"sub":"é"}',
      '{"sub":"ł","x":["€","😀"]}',
      '{"é":1}',
      '{"a":"\u0142"}',
      '{"a":"\ud83d"}',
      '{"a":"tab\there"}',
      '{"a":"raw\u007f"}',
      '{"a":1,"a":2}',
      '[1]',
    ])
      agree(Buffer.from(text, 'utf8'));
    for (const bytes of [
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d],
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d],
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x09, 0x22, 0x7d],
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x7f, 0x22, 0x7d],
      [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0x00, 0x22, 0x7d],
      [0x7b, 0x22, 0x80, 0x22, 0x3a, 0x31, 0x7d],
    ])
      agree(Buffer.from(bytes));
  });
});

describe('parseJsonObject: what the flat read remembers from one object to the next', () => {
  const parse = (text: string) => parseJsonObject(Buffer.from(text, 'utf8'));

  it('lists of strings: the same, changed, longer, shorter, one string the start of another', () => {
    const lists = [
      ['articles:read', 'articles:write'],
      ['articles:read', 'articles:write'],
      ['articles:read', 'articles:writer'],
      ['articles:rea', 'articles:write'],
      ['articles:read'],
      ['articles:read', 'articles:write', 'users:read'],
      [],
      ['articles:read"', 'x'],
      ['articles:read', 'articles:write'],
    ];
    for (const list of lists) {
      const text = `{"sub":"1","permissions":${JSON.stringify(list)},"exp":2}`;
      expect(parse(text)).toEqual(JSON.parse(text));
      expect(parse(` ${text}`)).toEqual(JSON.parse(text));
    }
  });

  it('hands out lists and objects of its own: changing one changes nothing the next parse returns', () => {
    const text = '{"sub":"1","permissions":["a","b"],"exp":2}';
    const first = parse(text) as { sub: string; permissions: unknown[]; extra?: number };
    first.permissions[0] = 'changed';
    first.permissions.push(7);
    first.sub = 'changed';
    first.extra = 1;
    expect(parse(text)).toEqual({ sub: '1', permissions: ['a', 'b'], exp: 2 });
    expect(parse(text)).toEqual({ sub: '1', permissions: ['a', 'b'], exp: 2 });
  });

  it('names the prototype gained after they were first read: own properties still, as JSON.parse gives', () => {
    const text = '{"sub":"1","role":"x","exp":2}';
    expect(parse(text)).toEqual({ sub: '1', role: 'x', exp: 2 });
    const proto = Object.prototype as Record<string, unknown>;
    let set = 0;
    Object.defineProperty(Object.prototype, 'role', {
      configurable: true,
      enumerable: false,
      get: () => 'from the prototype',
      set: () => {
        set++;
      },
    });
    try {
      for (const t of [text, text, '{"sub":"1","role":"y"}', '{"sub":"1","role":"y"}', '{"sub":"1","role":"z","exp":3}']) {
        const value = parse(t);
        const expected = JSON.parse(t) as Record<string, unknown>;
        expect(Object.getOwnPropertyDescriptor(value, 'role')).toEqual(Object.getOwnPropertyDescriptor(expected, 'role'));
        expect(Object.keys(value)).toEqual(Object.keys(expected));
        expect(value.role).toBe(expected.role);
      }
      expect(set).toBe(0);
    } finally {
      delete proto.role;
    }
    expect(parse(text)).toEqual({ sub: '1', role: 'x', exp: 2 });
  });
});
