/** Where revoked token ids live (API.md). `revoke` is idempotent; an entry lives at least until the token's `exp`. */
export interface RevocationStore {
  revoke(jti: string, expiresAt: Date, meta?: { userId?: string; reason?: string }): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
  purgeExpired(now?: Date): Promise<number>;
  /**
   * Feed for `cached` mode: revocations recorded after `since`, by any instance.
   * A store without it only learns its own instance's revocations: use it with `strict`.
   */
  revokedSince?(since: Date): Promise<Array<{ jti: string; expiresAt: Date; revokedAt: Date }>>;
}

/** Per-user "not before": every token of the user issued before `at` is refused (logout everywhere). */
export interface UserCutoffStore {
  /** Sets (or moves forward) the user's cut-off. */
  set(userId: string, at: Date): Promise<void>;
  get(userId: string): Promise<Date | null>;
  /** Cut-offs set after `since`, by any instance. */
  since(since: Date): Promise<Array<{ userId: string; at: Date }>>;
  /** Drops cut-offs older than `before` (no token issued before them can still be valid). */
  purgeOlderThan(before: Date): Promise<number>;
}

/** Injection tokens of the resolved stores (read them after the module has initialised). */
export const REVOCATION_STORE = Symbol('REVOCATION_STORE');
export const USER_CUTOFF_STORE = Symbol('USER_CUTOFF_STORE');
