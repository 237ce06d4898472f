import type { DataSource } from 'typeorm';
import { TypeOrmApiKeyStore } from '../api-keys/api-key.stores.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { TypeOrmRevocationStore, TypeOrmUserCutoffStore } from '../revocation/typeorm-revocation.store.js';
import { SessionEntity } from '../sessions/session.entity.js';
import { TypeOrmSessionStore } from '../sessions/typeorm-session.store.js';

/** The TypeORM stores, in one DataSource. Loaded by dynamic import: only apps on the TypeORM store load typeorm. */
export function createTypeOrmStores(dataSource: DataSource) {
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
