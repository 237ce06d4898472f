import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthConfigError } from '../errors/auth-error.js';

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

/**
 * Validates `apiKeys.keys` at boot. A broken entry fails the boot naming the option (`apiKeys.keys[1].key`);
 * no message ever contains a key or a digest.
 */
export function resolveConfiguredApiKeys(raw: unknown, enabled: boolean): ResolvedConfiguredApiKey[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new AuthConfigError('apiKeys.keys', 'must be an array of { name, key | sha256, permissions, userId? }');
  if (raw.length > 0 && !enabled) throw new AuthConfigError('apiKeys.keys', 'has keys but apiKeys.enabled is false: set it to true');
  const resolved: ResolvedConfiguredApiKey[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `apiKeys.keys[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new AuthConfigError(at, 'must be an object');
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!['name', 'key', 'sha256', 'permissions', 'userId'].includes(key)) throw new AuthConfigError(`${at}.${key}`, 'unknown option');
    }
    if (typeof e.name !== 'string' || e.name.trim().length === 0 || e.name.length > 150) {
      throw new AuthConfigError(`${at}.name`, 'must be a non-empty string of at most 150 characters');
    }
    const name = e.name.trim();
    if ((e.key === undefined) === (e.sha256 === undefined)) throw new AuthConfigError(at, 'give exactly one of key (in clear) and sha256');
    let digest: Buffer;
    if (e.key !== undefined) {
      if (typeof e.key !== 'string' || e.key.length < MIN_CONFIGURED_KEY_LENGTH) {
        throw new AuthConfigError(`${at}.key`, `must be a string of at least ${MIN_CONFIGURED_KEY_LENGTH} characters (a random one)`);
      }
      if (e.key !== e.key.trim()) throw new AuthConfigError(`${at}.key`, 'has leading or trailing whitespace, which a header cannot carry');
      digest = sha256Of(e.key);
    } else {
      if (typeof e.sha256 !== 'string' || !HEX_SHA256.test(e.sha256)) {
        throw new AuthConfigError(`${at}.sha256`, 'must be the SHA-256 of the key in hex (64 characters)');
      }
      digest = Buffer.from(e.sha256, 'hex');
    }
    if (!Array.isArray(e.permissions) || e.permissions.some((p) => typeof p !== 'string' || p.trim().length === 0)) {
      throw new AuthConfigError(`${at}.permissions`, 'must be an array of non-empty strings');
    }
    if (e.userId !== undefined && (typeof e.userId !== 'string' || e.userId.length === 0)) {
      throw new AuthConfigError(`${at}.userId`, 'must be a non-empty string');
    }
    const before = resolved.findIndex((r) => r.name === name);
    if (before !== -1) throw new AuthConfigError(`${at}.name`, `is the name of apiKeys.keys[${before}] too: names must be unique`);
    const same = resolved.findIndex((r) => r.digest.equals(digest));
    if (same !== -1) throw new AuthConfigError(at, `is the same key as apiKeys.keys[${same}]: each key must be different`);
    resolved.push({
      name,
      digest,
      permissions: [...new Set(e.permissions as string[])],
      userId: (e.userId as string | undefined) ?? `apikey:config:${name}`,
    });
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
