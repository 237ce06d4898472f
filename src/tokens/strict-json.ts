import { isAscii } from 'node:buffer';
import { AuthError } from '../errors/auth-error.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const MAX_DEPTH = 32;

/**
 * Parses a JOSE header or a JWT claims set: valid UTF-8 (no replacement
 * characters), a JSON object at the top, no member name twice in one object
 * (RFC 7515 §5.2 / RFC 7519 §4: "MUST either reject or use only the last";
 * we reject, so two parsers can never disagree on a claim) and nesting no
 * deeper than 32.
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // latin1 maps each byte to one character: the flat read accepts printable ASCII only, so on any
  // other byte it gives way to the general path, which decodes the bytes as UTF-8.
  const latin1 = buffer.toString('latin1');
  return flatObject(latin1) ?? parseGeneral(latin1, buffer);
}

/**
 * parseJsonObject for bytes already decoded as latin1 (one character per byte, as
 * `Buffer#toString('latin1')` or `decodeSegmentLatin1` give them): the same checks and result,
 * without a Buffer for the common (flat) case.
 */
export function parseJsonObjectLatin1(latin1: string): Record<string, unknown> {
  return flatObject(latin1) ?? parseGeneral(latin1, Buffer.from(latin1, 'latin1'));
}

/** Everything flatObject does not read: UTF-8 decoded, JSON.parse, then the member and depth checks. */
function parseGeneral(latin1: string, bytes: Buffer): Record<string, unknown> {
  let text: string;
  if (isAscii(bytes)) {
    // ASCII is valid UTF-8, and latin1 already decoded it byte for byte.
    text = latin1;
  } else {
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new AuthError('token_invalid', 'Token is not valid UTF-8');
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AuthError('token_invalid', 'Token is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('token_invalid', 'Token parts must be JSON objects');
  }
  checkMembers(text, value as Record<string, unknown>);
  return value as Record<string, unknown>;
}

const OBJECT_PROTOTYPE = Object.prototype;

/**
 * The common case, read directly: an ASCII object written without whitespace or escapes whose members
 * are plain strings, integers of at most 15 digits, true / false / null, or arrays of plain strings,
 * no name twice and none the object prototype has (what an issuer's JSON.stringify writes for a token). Anything else,
 * valid or not, gives undefined and goes to JSON.parse and the strict checks, so this path only ever
 * accepts a subset of what they accept, with the same values (test/unit/tokens compares the two).
 * Why: JSON.parse internalizes every string value of up to 10 characters (sub, username, sid), a
 * string-table insertion per value that doubles its cost on tokens never seen before (a cache miss);
 * here values are slices, names are found once, and no second pass looks for duplicates.
 */
function flatObject(text: string): Record<string, unknown> | undefined {
  const n = text.length;
  if (n < 2 || text.charCodeAt(0) !== 0x7b /* { */ || text.charCodeAt(n - 1) !== 0x7d /* } */) return undefined;
  if (n === 2) return {};
  // Every character is read once: outside strings by the grammar below, inside them by plainEnd()
  // (printable ASCII, no backslash, so every quote opens or closes a string).
  let i = 1;
  // The names so far are lastNames' first ones, in order (so distinct), their values in `values`;
  // `names` and `out` are built only once they differ.
  let same = true;
  let names: string[] | undefined;
  let out: Record<string, unknown> | undefined;
  const values: unknown[] = [];
  let k = 0;
  for (; ; k++) {
    if (text.charCodeAt(i) !== 0x22 /* " */) return undefined;
    let name: string;
    let nameEnd: number;
    const known = same && k < lastNames.length ? lastNames[k] : undefined;
    if (known !== undefined && text.charCodeAt(i + 1 + known.length) === 0x22 && text.startsWith(known, i + 1)) {
      // The previous object's name at this place: its string, already in V8's table, no slice to look up.
      name = known;
      nameEnd = i + 1 + known.length;
    } else {
      nameEnd = plainEnd(text, i + 1);
      if (nameEnd < 0) return undefined;
      name = text.slice(i + 1, nameEnd);
      if (same) {
        same = false;
        names = lastNames.slice(0, k);
        out = objectOf(names, values);
        if (out === undefined) return undefined;
      }
      // A name twice goes to the strict path, which refuses it.
      if (Object.prototype.hasOwnProperty.call(out, name)) return undefined;
      // A name the prototype has (`__proto__`, `toString`…) goes there too: JSON.parse defines an own
      // property where `=` would call a setter or fail on a frozen prototype.
      if (name in OBJECT_PROTOTYPE) return undefined;
      names!.push(name);
    }
    if (text.charCodeAt(nameEnd + 1) !== 0x3a /* : */) return undefined;
    i = nameEnd + 2;
    const c = text.charCodeAt(i);
    let value: unknown;
    if (c === 0x22 /* " */) {
      const end = plainEnd(text, i + 1);
      if (end < 0) return undefined;
      value = text.slice(i + 1, end);
      i = end + 1;
    } else if (c === 0x5b /* [ */) {
      const list: string[] = [];
      i++;
      if (text.charCodeAt(i) === 0x5d /* ] */) i++;
      else {
        let changed = false;
        for (;;) {
          if (text.charCodeAt(i) !== 0x22) return undefined;
          const known = list.length < lastList.length ? lastList[list.length] : undefined;
          let end: number;
          if (known !== undefined && text.charCodeAt(i + 1 + known.length) === 0x22 && text.startsWith(known, i + 1)) {
            // The last list's string at this place (a role's permissions, in token after token): that very
            // string, so whoever compares the lists next (the cache's interned ones) finds the same
            // object instead of comparing characters of a slice.
            end = i + 1 + known.length;
            list.push(known);
          } else {
            end = plainEnd(text, i + 1);
            if (end < 0) return undefined;
            list.push(text.slice(i + 1, end));
            changed = true;
          }
          i = end + 1;
          const d = text.charCodeAt(i++);
          if (d === 0x5d /* ] */) break;
          if (d !== 0x2c /* , */) return undefined;
        }
        // A copy: the list itself goes to the caller, who may change it.
        if (changed) lastList = list.slice();
      }
      value = list;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      // -?(0|[1-9][0-9]*), at most 15 digits: exact as a double, the same number JSON.parse gives (-0 included).
      let j = c === 0x2d ? i + 1 : i;
      const first = j;
      let v = 0;
      for (let d = text.charCodeAt(j); d >= 0x30 && d <= 0x39; d = text.charCodeAt(++j)) v = v * 10 + (d - 0x30);
      const digits = j - first;
      if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(first) === 0x30)) return undefined;
      value = c === 0x2d ? -v : v;
      i = j;
    } else if (text.startsWith('true', i)) {
      value = true;
      i += 4;
    } else if (text.startsWith('false', i)) {
      value = false;
      i += 5;
    } else if (text.startsWith('null', i)) {
      value = null;
      i += 4;
    } else return undefined;
    if (same) values.push(value);
    else out![name] = value;
    const d = text.charCodeAt(i);
    if (d === 0x2c /* , */) i++;
    else if (d === 0x7d /* } */ && i === n - 1) break;
    else return undefined;
  }
  if (same && k + 1 === lastNames.length) {
    // The last object's names exactly: a copy of its template (own data properties, as JSON.parse
    // defines them, whatever the prototype has), each then set in place, with no property added.
    out = { ...lastTemplate };
    for (let j = 0; j <= k; j++) out[lastNames[j]] = values[j];
  } else {
    // The names of an object read whole: the next token's, most often the same, are compared to them.
    if (same) {
      names = lastNames.slice(0, k + 1);
      out = objectOf(names, values);
      if (out === undefined) return undefined;
    }
    // The two together: a template must never be copied for other names than its own.
    lastNames = names!;
    lastTemplate = { ...out };
  }
  return out;
}

/**
 * A new object of `names` (distinct) and the values at the same places, set one by one; undefined
 * when the prototype has one of the names (it may have gained one since they were first read).
 */
function objectOf(names: readonly string[], values: readonly unknown[]): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (let j = 0; j < names.length; j++) {
    if (names[j] in OBJECT_PROTOTYPE) return undefined;
    out[names[j]] = values[j];
  }
  return out;
}

/**
 * The index of the quote closing a string whose characters start at `from`, or -1 when one of them
 * is outside printable ASCII (a control character, DEL, a byte above 0x7f: whatever JSON refuses raw
 * or UTF-8 must decode) or a backslash (an escape, for JSON.parse), or no quote closes it. Replaces a
 * regular expression over the whole text plus an indexOf per string: one pass, no second one.
 */
function plainEnd(text: string, from: number): number {
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22 /* " */) return j;
    if (c < 0x20 || c >= 0x7f || c === 0x5c /* \ */) return -1;
  }
  return -1;
}

/** The strings of the last list of strings flatObject read that differed from the one before (all plain). */
let lastList: string[] = [];

/** The member names of the last object flatObject read whole (distinct, none on the prototype). */
let lastNames: string[] = [];
/** An object with lastNames as its own properties, in order: what an object of the same names is copied from. */
let lastTemplate: Record<string, unknown> = {};

/**
 * One pass over already-valid JSON for the nesting depth and the member
 * names of the top-level object. JSON.parse keeps one property per distinct
 * name (escaped spellings included), so the top-level object has a duplicate
 * exactly when it has fewer own keys than the text has members: a count, no
 * string is cut or compared. Objects nested inside (rare in tokens) get the
 * name-by-name check.
 */
function checkMembers(text: string, value: Record<string, unknown>): void {
  let depth = 0;
  // Bit d set: the container at depth d + 1 is an object (depth is at most 32).
  let objects = 0;
  let expectKey = false;
  let members = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const j = closingQuote(text, i);
      if (expectKey) {
        if (depth !== 1) return checkNestedMembers(text);
        members++;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= MAX_DEPTH) throw new AuthError('token_invalid', 'Token is nested too deeply');
      if (c === 0x7b) objects |= 1 << depth;
      else objects &= ~(1 << depth);
      depth++;
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      expectKey = ((objects >>> (depth - 1)) & 1) === 1;
    }
  }
  if (members !== Object.keys(value).length) throw new AuthError('token_invalid', 'Duplicate member in token');
}

/**
 * The index of the quote that closes the string opening at `open`, in valid JSON (there is one): the
 * next quote not escaped, found with indexOf (most of a token's characters are inside strings, and
 * indexOf skips them natively: about half the time of a loop over every character). A quote is
 * escaped when an odd run of backslashes precedes it.
 */
function closingQuote(text: string, open: number): number {
  let j = text.indexOf('"', open + 1);
  while (text.charCodeAt(j - 1) === 0x5c /* \ */) {
    let k = j - 1;
    while (text.charCodeAt(k - 1) === 0x5c) k--;
    // j - k backslashes before the quote: an even run escapes only itself.
    if ((j - k) % 2 === 0) break;
    j = text.indexOf('"', j + 1);
  }
  return j;
}

/** Name by name, for every object: a set of the names seen in each open object. */
function checkNestedMembers(text: string): void {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (text.charCodeAt(j) !== 0x22) {
        if (text.charCodeAt(j) === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else j++;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const name = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (top.has(name)) throw new AuthError('token_invalid', 'Duplicate member in token');
        top.add(name);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_DEPTH) throw new AuthError('token_invalid', 'Token is nested too deeply');
      stack.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== null;
    }
  }
}
