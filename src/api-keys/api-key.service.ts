import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthContextData } from '../context/auth-context.js';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { AuthError } from '../errors/auth-error.js';
import type { ApiKeySettings } from './api-key-settings.js';
import { API_KEY_STORE, type ApiKeyInfo, type ApiKeyRecord, type ApiKeyStore } from './api-key.types.js';
import { matchConfiguredApiKey } from './configured-api-keys.js';

/** `nak_<prefix>_<secret>`: a marker that secret scanners can match, a public lookup prefix, 256 random bits. */
const MARKER = 'nak';
const PREFIX_BYTES = 9;
const SECRET_BYTES = 32;
const KEY_PATTERN = /^nak_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;
/** When no pepper is configured the HMAC key is this label: still a sound hash for 256-bit random secrets. */
const DEFAULT_PEPPER = Buffer.from('@democrai/nest-auth api key v1');
const FLUSH_INTERVAL_MS = 5_000;
const MAX_NEGATIVE_ENTRIES = 10_000;

interface CacheEntry {
  key: ApiKeyRecord | null;
  fetchedAt: number;
}

/**
 * API keys for service-to-service callers. A key is shown once, by `create`;
 * the store keeps its public prefix and an HMAC-SHA-256 of its secret part.
 * Verification reads the row by prefix (cached for at most `syncIntervalMs`,
 * so another instance's revocation is seen within that bound) and compares
 * the hashes in constant time. Last use is recorded in batches.
 */
@Injectable()
export class ApiKeyService implements OnApplicationShutdown {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pendingTouches = new Map<string, Date>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly pepper: Buffer;
  private readonly ttlMs: number;
  private readonly logger = new Logger('ApiKeyService');
  private readonly revokeListeners = new Set<() => void>();

  constructor(
    @Inject(API_KEY_STORE) private readonly store: ApiKeyStore,
    private readonly audit: AuditEmitter,
    @Inject(AUTH_OPTIONS) private readonly options: ApiKeySettings,
  ) {
    const { apiKeys, revocation } = options;
    this.pepper = apiKeys.pepper ? Buffer.from(apiKeys.pepper) : DEFAULT_PEPPER;
    this.ttlMs = revocation.syncIntervalMs;
  }

  async create(input: { name: string; permissions: string[]; userId?: string; expiresAt?: Date }): Promise<{ id: string; key: string }> {
    this.assertEnabled();
    if (typeof input?.name !== 'string' || input.name.trim().length === 0 || input.name.length > 150) {
      throw new TypeError('ApiKeyService.create: name must be a non-empty string of at most 150 characters');
    }
    if (!Array.isArray(input.permissions) || input.permissions.some((p) => typeof p !== 'string' || p.trim().length === 0)) {
      throw new TypeError('ApiKeyService.create: permissions must be an array of non-empty strings');
    }
    if (input.userId !== undefined && (typeof input.userId !== 'string' || input.userId.length === 0)) {
      throw new TypeError('ApiKeyService.create: userId must be a non-empty string');
    }
    if (input.expiresAt !== undefined && (!(input.expiresAt instanceof Date) || !(input.expiresAt.getTime() > this.options.clock.now()))) {
      throw new TypeError('ApiKeyService.create: expiresAt must be a Date in the future');
    }
    const prefix = randomBytes(PREFIX_BYTES).toString('base64url');
    const secret = randomBytes(SECRET_BYTES).toString('base64url');
    const record: ApiKeyRecord = {
      id: randomBytes(12).toString('base64url'),
      name: input.name.trim(),
      prefix,
      secretHash: this.hash(secret),
      permissions: [...new Set(input.permissions)],
      userId: input.userId ?? null,
      createdAt: new Date(this.options.clock.now()),
      expiresAt: input.expiresAt ?? null,
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.insert(record);
    this.audit.emit({ type: 'api_key.created', apiKeyId: record.id, userId: record.userId ?? undefined, reason: record.name });
    return { id: record.id, key: `${MARKER}_${prefix}_${secret}` };
  }

  async revoke(id: string): Promise<void> {
    this.assertEnabled();
    const revoked = await this.store.revoke(id, new Date(this.options.clock.now()));
    // This instance refuses at once; the others when their cached row expires (syncIntervalMs).
    for (const [prefix, entry] of this.cache) if (entry.key?.id === id) this.cache.delete(prefix);
    if (revoked) this.audit.emit({ type: 'api_key.revoked', apiKeyId: id });
    for (const listener of this.revokeListeners) listener();
  }

  /** Calls `listener` after each `revoke` on this instance (live connections are checked then); returns the remover. */
  onRevoke(listener: () => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  async list(): Promise<ApiKeyInfo[]> {
    this.assertEnabled();
    await this.flush();
    return (await this.store.list()).map(infoOf);
  }

  /** The guard's check. Throws `api_key_invalid`; never echoes the key. */
  async authenticate(rawKey: string): Promise<AuthContextData> {
    // Keys from the configuration first: no store call for them, and they work with no store at all.
    const configured = matchConfiguredApiKey(this.options.apiKeys.keys, rawKey);
    if (configured) {
      return { userId: configured.userId, isStaff: false, isSuperuser: false, permissions: [...configured.permissions], backend: 'api_key' };
    }
    const match = KEY_PATTERN.exec(rawKey);
    if (!match) return this.reject('malformed');
    const [, prefix, secret] = match;
    const key = await this.lookup(prefix);
    if (!key) return this.reject('unknown_prefix', undefined, prefix);
    const expected = Buffer.from(key.secretHash, 'hex');
    const actual = Buffer.from(this.hash(secret), 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return this.reject('wrong_secret', key.id);
    const now = this.options.clock.now();
    if (key.revokedAt) return this.reject('revoked', key.id);
    if (key.expiresAt && key.expiresAt.getTime() <= now) return this.reject('expired', key.id);
    this.noteUse(key.id, now);
    return {
      userId: key.userId ?? `apikey:${key.id}`,
      isStaff: false,
      isSuperuser: false,
      permissions: [...key.permissions],
      backend: 'api_key',
    };
  }

  /** The public lookup prefix of a well-formed key: live connections are tracked by it, never by the secret. */
  prefixOf(rawKey: string): string | undefined {
    return KEY_PATTERN.exec(rawKey)?.[1];
  }

  /**
   * Whether the key of `prefix` may still be used (known, not revoked, not
   * expired), read from the store now (the cache is refreshed with it): for
   * live connections opened with the key. Rejects if the store fails.
   */
  async stillUsable(prefix: string): Promise<boolean> {
    const key = await this.store.findByPrefix(prefix);
    if (key || this.cache.has(prefix)) this.cache.set(prefix, { key, fetchedAt: this.options.clock.now() });
    return key !== null && !key.revokedAt && !(key.expiresAt && key.expiresAt.getTime() <= this.options.clock.now());
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    await this.flush().catch(() => undefined);
  }

  /** Writes the batched last-use times. */
  async flush(): Promise<void> {
    if (this.pendingTouches.size === 0) return;
    const batch = new Map(this.pendingTouches);
    this.pendingTouches.clear();
    await this.store.touch(batch);
  }

  private async lookup(prefix: string): Promise<ApiKeyRecord | null> {
    const now = this.options.clock.now();
    const hit = this.cache.get(prefix);
    if (hit && now - hit.fetchedAt < this.ttlMs) return hit.key;
    const key = await this.store.findByPrefix(prefix);
    // Unknown prefixes are cached too, but bounded: random prefixes must not grow memory without end.
    if (key || this.cache.size < MAX_NEGATIVE_ENTRIES) this.cache.set(prefix, { key, fetchedAt: now });
    return key;
  }

  private noteUse(id: string, now: number): void {
    this.pendingTouches.set(id, new Date(now));
    if (!this.flushTimer) {
      this.flushTimer = setInterval(() => {
        this.flush().catch((err: unknown) => this.logger.warn(`last-use flush failed: ${err instanceof Error ? err.message : String(err)}`));
      }, FLUSH_INTERVAL_MS);
      this.flushTimer.unref();
    }
  }

  private reject(reason: string, apiKeyId?: string, prefix?: string): never {
    this.audit.emit({ type: 'api_key.rejected', apiKeyId, reason: prefix ? `${reason} (prefix ${prefix})` : reason });
    throw new AuthError('api_key_invalid', reason);
  }

  private hash(secret: string): string {
    return createHmac('sha256', this.pepper).update(secret).digest('hex');
  }

  private assertEnabled(): void {
    if (!this.options.apiKeys.enabled) throw new Error('API keys are off: set apiKeys: { enabled: true } in the AuthModule options');
  }
}

function infoOf(k: ApiKeyRecord): ApiKeyInfo {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    permissions: k.permissions,
    ...(k.userId ? { userId: k.userId } : {}),
    createdAt: k.createdAt,
    ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}),
    ...(k.lastUsedAt ? { lastUsedAt: k.lastUsedAt } : {}),
    ...(k.revokedAt ? { revokedAt: k.revokedAt } : {}),
  };
}
