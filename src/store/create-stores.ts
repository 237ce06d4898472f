import type { DataSource } from 'typeorm';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../revocation/in-memory-revocation.store.js';
import type { RevocationStore, UserCutoffStore } from '../revocation/revocation-store.js';
import { InMemorySessionStore } from '../sessions/in-memory-session.store.js';
import type { SessionStore } from '../sessions/session-store.js';

export interface AuthStores { revocations: RevocationStore; sessions: SessionStore; cutoffs: UserCutoffStore }
export function createMemoryStores(): AuthStores {
  return { revocations: new InMemoryRevocationStore(), sessions: new InMemorySessionStore(), cutoffs: new InMemoryUserCutoffStore() };
}
export function createTypeOrmStores(_ds: DataSource): AuthStores { throw new Error('typeorm stores not yet'); }
