/** What `ApiKeyService.list()` shows of a key: never the key, its secret or its hash. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  permissions: string[];
  userId?: string;
  createdAt: Date;
  expiresAt?: Date;
  lastUsedAt?: Date;
  revokedAt?: Date;
}

/** A stored key: the public prefix and a keyed hash of the secret part. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
  permissions: string[];
  userId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface ApiKeyStore {
  insert(key: ApiKeyRecord): Promise<void>;
  findByPrefix(prefix: string): Promise<ApiKeyRecord | null>;
  list(): Promise<ApiKeyRecord[]>;
  /** True if this call revoked a live key. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Records last-use times in one batch. */
  touch(lastUsed: ReadonlyMap<string, Date>): Promise<void>;
}

/** Injection token of the resolved `ApiKeyStore` (read it after the module has initialised). */
export const API_KEY_STORE = Symbol('API_KEY_STORE');
