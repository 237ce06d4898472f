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
}

export interface PasswordHasher {
  hash(plain: string): Promise<string>;
  verify(hash: string, plain: string): Promise<boolean>;
}
