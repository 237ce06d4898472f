export interface AuthUserRecord {
  id: string | number;
  username: string;
  email?: string;
  passwordHash: string;
  /** Default true. */
  isActive?: boolean;
  isStaff?: boolean;
  isSuperuser?: boolean;
  permissions?: string[];
}

export interface UserProvider {
  findByUsername(username: string): Promise<AuthUserRecord | null>;
  findById(id: string): Promise<AuthUserRecord | null>;
  /**
   * Stores a new hash for the user. With it, a login whose stored hash the hasher
   * reports as outdated (`needsRehash`) replaces it with a fresh one made from the
   * password just verified. A failure here never fails the login.
   */
  updatePasswordHash?(userId: string, newHash: string): Promise<void>;
}

export interface PasswordHasher {
  hash(plain: string): Promise<string>;
  verify(hash: string, plain: string): Promise<boolean>;
  /** True when `hash` was made with other parameters or another algorithm than `hash()` uses now. */
  needsRehash?(hash: string): boolean;
}
