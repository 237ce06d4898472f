/**
 * The building blocks every option group is declared with (the module's options in options/, `cookies`,
 * `loginThrottle`, `apiKeys.keys` in their features), and the one place a schema's first issue becomes the
 * `AuthConfigError` the app sees at boot: the option's path, what is wrong, how to fix it.
 *
 * Why zod 4: one declaration gives both the types an app writes its options against (`z.input`) and the
 * validation, with the message of each rule written beside it, so the two cannot drift (they did, written by hand
 * three times). Many Nest apps have it already (nestjs-zod, tRPC); it ships ESM and CommonJS builds, needs no
 * decorators or reflect-metadata, and sets no `engines` floor above our Node 20.19. class-validator, already a peer,
 * validates class instances: every option group would need a class built from the plain object (class-transformer,
 * not a dependency), and functions, a string-or-object union or a store instance fit its decorators badly. valibot
 * would weigh less on disk (zod 4 is ~8 MB with its locales and v3 copy); zod won on how often an app has it
 * already, which makes it cost nothing there.
 */
import * as z from 'zod';
import { AuthConfigError } from '../errors/auth-error.js';

export { z };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Edit distance, for "did you mean": a misspelt key is most often one or two keystrokes away. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** `unknown option`, and the known key the app most likely meant when one is close (case aside: ≤ 2 edits, or a part of it). */
export function unknownOption(key: string, known: readonly string[]): string {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === lower ? 0 : distance(lower, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const limit = Math.max(1, Math.min(2, Math.floor(key.length / 3)));
  // A part of the name (`prefix` for `keyPrefix`, `origins` for `trustedOrigins`) counts as close too, from four letters on.
  const part = lower.length >= 4 ? known.find((candidate) => candidate.toLowerCase().includes(lower)) : undefined;
  const meant = best !== undefined && bestDistance <= limit ? best : part;
  return meant !== undefined ? `unknown option (did you mean "${meant}"?)` : 'unknown option';
}

/** A declared option group. Named, so the declarations emitted for apps keep each option's comment. */
export type Group<T extends z.ZodRawShape> = z.ZodObject<T, z.core.$strict>;

/**
 * An option group: an object with exactly these keys. A key not in it fails the boot naming it, with the closest
 * known key; anything but a plain object fails with `notObject`.
 */
export function group<T extends z.ZodRawShape>(
  shape: T,
  notObject: string | ((issue: { input: unknown }) => string) = 'must be an object',
): Group<T> {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? unknownOption(issue.keys[0]!, known) : typeof notObject === 'string' ? notObject : notObject(issue),
  });
}

/** A value checked by `ok`, typed `T`, refused with `message`. For functions and objects with methods too. */
export function check<T>(ok: (value: unknown) => boolean, message: string) {
  return z.custom<T>((value) => ok(value), { error: message });
}

export const hasMethods = (value: unknown, methods: readonly string[]): boolean =>
  (isObject(value) || typeof value === 'function') && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');

/** An object (a store, a sink, a clock…) with these methods. */
export function implementing<T>(methods: readonly string[], message: string) {
  return check<T>((value) => isObject(value) && hasMethods(value, methods), message);
}

export function positiveInt(max = 1e9) {
  const message = `must be a positive integer${max < 1e9 ? ` of at most ${max}` : ''}`;
  return check<number>((v) => Number.isSafeInteger(v) && (v as number) > 0 && (v as number) <= max, message);
}

export function nonNegative(integer: boolean) {
  return check<number>(
    (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && (!integer || Number.isInteger(v)),
    `must be a ${integer ? 'non-negative integer' : 'non-negative number'}`,
  );
}

export const bool = () => check<boolean>((v) => typeof v === 'boolean', 'must be a boolean');

export const nonEmptyString = (message = 'must be a non-empty string') => check<string>((v) => typeof v === 'string' && v.length > 0, message);

/** One of these literal values. */
export function oneOf<const T extends readonly string[]>(values: T, message: string) {
  return check<T[number]>((v) => (values as readonly unknown[]).includes(v), message);
}

/** A secret given as a string or a Buffer, of at least `bytes` bytes. */
export function secretBytes(bytes: number, message = `must be a string or Buffer of at least ${bytes} bytes`) {
  return check<string | Buffer>((v) => (typeof v === 'string' || Buffer.isBuffer(v)) && Buffer.byteLength(v) >= bytes, message);
}

function pathOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : (out ? '.' : '') + String(part);
  return out;
}

type Issue = z.core.$ZodIssue;

/** An unknown key first (a typo explains the rest), else the first issue. */
const firstOf = (issues: readonly Issue[]): Issue | undefined => issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];

/**
 * The issue to report, with its full path. A value none of a union's forms accepts is reported inside the form it
 * was meant as: the one whose issues are all within the value (`perIp: { limit: 0 }` is a `{ limit, windowSeconds }`
 * with a bad limit, not "not false"); when no form got that far, the union's own message.
 */
function reported(issue: Issue, path: readonly PropertyKey[]): { path: PropertyKey[]; message: string } {
  const at = [...path, ...issue.path];
  if (issue.code === 'invalid_union') {
    // Not the form meant: one refused at the value itself, or whose literal (a `type: 'cache'`) the value does not carry.
    const meant = issue.errors.find(
      (branch) => branch.length > 0 && branch.every((i) => (i.path.length > 0 || i.code === 'unrecognized_keys') && i.code !== 'invalid_value'),
    );
    const inner = meant && firstOf(meant);
    if (inner) return reported(inner, at);
  }
  if (issue.code === 'unrecognized_keys') at.push(issue.keys[0]!);
  return { path: at, message: issue.message };
}

/**
 * Parses `raw` with `schema`: its value, or the `AuthConfigError` of its first issue, named by its path under
 * `prefix` (`'options'` for the options object itself).
 */
export function parseOption<S extends z.ZodType>(schema: S, raw: unknown, prefix: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const { path, message } = reported(firstOf(result.error.issues)!, []);
  const at = pathOf(path);
  const option = prefix && at ? (at.startsWith('[') ? prefix + at : `${prefix}.${at}`) : prefix || at || 'options';
  throw new AuthConfigError(option, message);
}
