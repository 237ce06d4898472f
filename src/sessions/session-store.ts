/** One login: the refresh chain of a device. */
export interface SessionRecord {
  id: string;
  userId: string;
  /** The jti of the only refresh token of this session that may still be used. */
  currentJti: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** Absolute end: no refresh after it. */
  expiresAt: Date;
  endedAt: Date | null;
  userAgent?: string;
  ip?: string;
}

export interface NewSession {
  id: string;
  userId: string;
  currentJti: string;
  createdAt: Date;
  expiresAt: Date;
  userAgent?: string;
  ip?: string;
}

export interface SessionStore {
  create(session: NewSession): Promise<void>;
  find(id: string): Promise<SessionRecord | null>;
  /**
   * One atomic conditional update: swaps `currentJti` from `fromJti` to `toJti`
   * only if the session is live (not ended, not past `expiresAt` at `now`) and
   * `fromJti` is still current; remembers `fromJti` as rotated out at `now`.
   * Of many concurrent calls with the same `fromJti`, exactly one returns true.
   * `expiresAt`, when given, moves the absolute end (sliding sessions).
   */
  rotate(id: string, fromJti: string, toJti: string, now: Date, expiresAt?: Date): Promise<boolean>;
  /** When `jti` was rotated out of session `id`, or null if it never belonged to it. */
  rotatedOutAt(id: string, jti: string): Promise<Date | null>;
  /** Ends a live session; true if this call ended it. */
  end(id: string, now: Date, reason: string): Promise<boolean>;
  /** Ends every live session of the user; returns the ids it ended. */
  endAllForUser(userId: string, now: Date, reason: string): Promise<string[]>;
  /** Live sessions of the user, newest first. */
  listForUser(userId: string, now: Date): Promise<SessionRecord[]>;
  /** Sessions ended after `since`, by any instance (for the cached revocation check). */
  endedSince(since: Date): Promise<Array<{ id: string; endedAt: Date }>>;
  /** Deletes sessions that ended or expired before `before`, with their rotated-out ids. */
  purgeEndedBefore(before: Date): Promise<number>;
}

/** Injection token of the resolved `SessionStore` (read it after the module has initialised). */
export const SESSION_STORE = Symbol('SESSION_STORE');
