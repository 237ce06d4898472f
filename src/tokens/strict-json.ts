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
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AuthError('token_invalid', 'Token is not valid UTF-8');
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
  checkMembers(text);
  return value as Record<string, unknown>;
}

/** One pass over already-valid JSON: duplicate member names and depth. */
function checkMembers(text: string): void {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const name = JSON.parse(text.slice(i, j + 1)) as string;
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
