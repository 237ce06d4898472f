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
  let text: string;
  if (isAscii(bytes)) {
    // Nearly every token: ASCII is valid UTF-8 and latin1 decodes it byte for byte, without the fatal decoder's setup.
    text = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('latin1');
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
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
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
