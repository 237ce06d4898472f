import type { Type } from '@nestjs/common';
import type { PasswordHasher, UserProvider } from './user.types.js';

/** What users/ reads of the module's options (`AUTH_OPTIONS`); options/ checks the resolved options satisfy it. */
export interface UserSettings {
  users?: Type<UserProvider> | UserProvider;
  passwordHasher?: PasswordHasher;
}
