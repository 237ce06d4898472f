import type { DataSource } from 'typeorm';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../revocation/in-memory-revocation.store.js';
import type { RevocationStore, UserCutoffStore } from '../revocation/revocation-store.js';
import { TypeOrmRevocationStore, TypeOrmUserCutoffStore } from '../revocation/typeorm-revocation.store.js';
import { InMemorySessionStore } from '../sessions/in-memory-session.store.js';
import type { SessionStore } from '../sessions/session-store.js';
import { TypeOrmSessionStore } from '../sessions/typeorm-session.store.js';
import { SessionEntity } from '../sessions/session.entity.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { InMemoryApiKeyStore, TypeOrmApiKeyStore } from '../api-keys/api-key.stores.js';
import type { ApiKeyStore } from '../api-keys/api-key.types.js';

/** Everything the module keeps between requests. */
export interface AuthStores {
  revocations: RevocationStore;
  sessions: SessionStore;
  cutoffs: UserCutoffStore;
  apiKeys: ApiKeyStore;
}

export function createMemoryStores(): AuthStores {
  return { revocations: new InMemoryRevocationStore(), sessions: new InMemorySessionStore(), cutoffs: new InMemoryUserCutoffStore(), apiKeys: new InMemoryApiKeyStore() };
}

export function createTypeOrmStores(dataSource: DataSource): AuthStores {
  if (!dataSource.hasMetadata(SessionEntity)) {
    throw new AuthConfigError('store', "the DataSource does not know the module's entities: add ...authEntities to its `entities`");
  }
  return {
    revocations: new TypeOrmRevocationStore(dataSource),
    sessions: new TypeOrmSessionStore(dataSource),
    cutoffs: new TypeOrmUserCutoffStore(dataSource),
    apiKeys: new TypeOrmApiKeyStore(dataSource),
  };
}
