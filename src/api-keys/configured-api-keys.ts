import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthConfigError } from '../errors/auth-error.js';
import { check, group, nonEmptyString, parseOption, z } from '../option-schema/option-schema.js';

/** An API key given in the options (`apiKeys.keys`), as the module keeps it: its SHA-256, never the key. */
export interface ResolvedConfiguredApiKey {
  name: string;
  digest: Buffer;
  permissions: string[];
  userId: string;
}

/** Shortest key accepted in clear: 32 characters of a random key are far beyond guessing. */
export const MIN_CONFIGURED_KEY_LENGTH = 32;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

export const sha256Of = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** One entry of `apiKeys.keys`: the declaration its type (`ConfiguredApiKey`) and its validation come from. */
const configuredApiKeySchema = group({
  /** Unique; in audit events, and the principal's id (`apikey:config:<name>`) when no `userId` is given. */
  name: check<string>((v) => typeof v === 'string' && v.trim().length > 0 && v.length <= 150, 'must be a non-empty string of at most 150 characters'),
  /** The key in clear, for development (at least 32 characters). Production configuration gives `sha256` instead. */
  key: check<string>(
    (v) => typeof v === 'string' && v.length >= MIN_CONFIGURED_KEY_LENGTH,
    `must be a string of at least ${MIN_CONFIGURED_KEY_LENGTH} characters (a random one)`,
  )
    .refine((v) => v === v.trim(), 'has leading or trailing whitespace, which a header cannot carry')
    .optional(),
  /** The key's SHA-256 in hex: `printf %s "$KEY" | sha256sum`. */
  sha256: check<string>((v) => typeof v === 'string' && HEX_SHA256.test(v), 'must be the SHA-256 of the key in hex (64 characters)').optional(),
  /** Exactly the permissions a request with this key gets. */
  permissions: check<string[]>(
    (v) => Array.isArray(v) && v.every((p) => typeof p === 'string' && p.trim().length > 0),
    'must be an array of non-empty strings',
  ),
  /** The principal's `userId` [`apikey:config:<name>`]. */
  userId: nonEmptyString().optional(),
});

/** An API key given in the configuration (`apiKeys.keys`), beside the keys in the store. */
export type ConfiguredApiKey = z.input<typeof configuredApiKeySchema>;

export const configuredApiKeysSchema = z.array(configuredApiKeySchema, {
  error: 'must be an array of { name, key | sha256, permissions, userId? }',
});

/**
 * Validates `apiKeys.keys` at boot (with `configuredApiKeysSchema`, then what ties the entries together). A broken
 * entry fails the boot naming the option (`apiKeys.keys[1].key`); no message ever contains a key or a digest.
 */
export function resolveConfiguredApiKeys(raw: unknown, enabled: boolean): ResolvedConfiguredApiKey[] {
  if (raw === undefined) return [];
  const entries = parseOption(configuredApiKeysSchema, raw, 'apiKeys.keys');
  if (entries.length > 0 && !enabled) throw new AuthConfigError('apiKeys.keys', 'has keys but apiKeys.enabled is false: set it to true');
  const resolved: ResolvedConfiguredApiKey[] = [];
  entries.forEach((e, i) => {
    const at = `apiKeys.keys[${i}]`;
    const name = e.name.trim();
    if ((e.key === undefined) === (e.sha256 === undefined)) throw new AuthConfigError(at, 'give exactly one of key (in clear) and sha256');
    const digest = e.key !== undefined ? sha256Of(e.key) : Buffer.from(e.sha256!, 'hex');
    const before = resolved.findIndex((r) => r.name === name);
    if (before !== -1) throw new AuthConfigError(`${at}.name`, `is the name of apiKeys.keys[${before}] too: names must be unique`);
    const same = resolved.findIndex((r) => r.digest.equals(digest));
    if (same !== -1) throw new AuthConfigError(at, `is the same key as apiKeys.keys[${same}]: each key must be different`);
    resolved.push({ name, digest, permissions: [...new Set(e.permissions)], userId: e.userId ?? `apikey:config:${name}` });
  });
  return resolved;
}

/**
 * The configured key `raw` is, if any. Its SHA-256 is compared with every configured digest in constant time and
 * without stopping at a match, so the time taken tells nothing about which entry, or how much of one, matched.
 */
export function matchConfiguredApiKey(keys: readonly ResolvedConfiguredApiKey[], raw: string): ResolvedConfiguredApiKey | undefined {
  if (keys.length === 0) return undefined;
  const digest = sha256Of(raw);
  let found: ResolvedConfiguredApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(key.digest, digest) && found === undefined) found = key;
  return found;
}
