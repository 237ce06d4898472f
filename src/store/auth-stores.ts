import { Inject, Injectable, Logger, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import type { ApiKeyStore } from '../api-keys/api-key.types.js';
import { InMemoryApiKeyStore } from '../api-keys/api-key.stores.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { AuthConfigError } from '../errors/auth-error.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../revocation/in-memory-revocation.store.js';
import type { RevocationStore, UserCutoffStore } from '../revocation/revocation-store.js';
import { InMemorySessionStore } from '../sessions/in-memory-session.store.js';
import type { SessionStore } from '../sessions/session-store.js';

/** Injection tokens of the stores, for apps that read them (after the module has initialised). */
export const SESSION_STORE = Symbol('SESSION_STORE');
export const REVOCATION_STORE = Symbol('REVOCATION_STORE');
export const USER_CUTOFF_STORE = Symbol('USER_CUTOFF_STORE');
export const API_KEY_STORE = Symbol('API_KEY_STORE');

/**
 * Everything the module keeps between requests. Stores of the app's own
 * (`stores.*`) are used as given; the rest come from `store`: in memory, or
 * in the app's TypeORM DataSource. The DataSource is looked up when the module
 * initialises, when every provider of the app exists whatever the order of its
 * imports, and TypeORM is loaded only then: an app on the memory store runs
 * without it installed.
 */
@Injectable()
export class AuthStores {
  sessions!: SessionStore;
  revocations!: RevocationStore;
  cutoffs!: UserCutoffStore;
  apiKeys!: ApiKeyStore;
  private readonly logger = new Logger('AuthModule');

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    private readonly moduleRef: ModuleRef,
  ) {}

  async resolve(): Promise<void> {
    const { store, stores } = this.options;
    if (store.type === 'memory') {
      this.sessions = stores.sessions ?? new InMemorySessionStore();
      this.revocations = stores.revocations ?? new InMemoryRevocationStore();
      this.cutoffs = stores.cutoffs ?? new InMemoryUserCutoffStore();
      this.apiKeys = stores.apiKeys ?? new InMemoryApiKeyStore();
      return;
    }
    const dataSource = await this.resolveDataSource(store.dataSource);
    const typeorm = await import('./typeorm-stores.js');
    const made = typeorm.createTypeOrmStores(dataSource);
    this.sessions = stores.sessions ?? made.sessions;
    this.revocations = stores.revocations ?? made.revocations;
    this.cutoffs = stores.cutoffs ?? made.cutoffs;
    this.apiKeys = stores.apiKeys ?? made.apiKeys;
  }

  private async resolveDataSource(name: string): Promise<DataSource> {
    let token: unknown;
    try {
      const nestTypeorm = await import('@nestjs/typeorm');
      token = nestTypeorm.getDataSourceToken(name);
    } catch {
      throw new AuthConfigError('store', "'typeorm' needs typeorm and @nestjs/typeorm installed, and TypeOrmModule.forRoot() in the app");
    }
    let dataSource: DataSource | undefined;
    try {
      dataSource = this.moduleRef.get(token as Type<DataSource>, { strict: false });
    } catch {
      dataSource = undefined;
    }
    if (!dataSource) {
      throw new AuthConfigError(
        'store',
        `'typeorm' needs the app's DataSource "${name}" (TypeOrmModule.forRoot(${name === 'default' ? '' : `{ name: '${name}' }`}) with authEntities among its entities)`,
      );
    }
    this.logger.debug(`sessions and revocations in DataSource "${name}"`);
    return dataSource;
  }
}

/** The store tokens, each the resolved store (read it after the module has initialised). */
export const storeTokenProviders = [
  { provide: SESSION_STORE, key: 'sessions' },
  { provide: REVOCATION_STORE, key: 'revocations' },
  { provide: USER_CUTOFF_STORE, key: 'cutoffs' },
  { provide: API_KEY_STORE, key: 'apiKeys' },
].map(({ provide, key }) => ({
  provide,
  useFactory: (stores: AuthStores) => lateBound(stores, key as 'sessions'),
  inject: [AuthStores],
}));

/** An object that forwards every call to the store as resolved at init (the token exists before the DataSource does). */
function lateBound<K extends 'sessions' | 'revocations' | 'cutoffs' | 'apiKeys'>(stores: AuthStores, key: K): AuthStores[K] {
  return new Proxy({} as AuthStores[K], {
    get(_target, property) {
      const store = stores[key] as unknown as Record<string | symbol, unknown> | undefined;
      // Before the module has initialised there is nothing to forward to (Nest itself probes providers for hooks).
      if (store === undefined) return undefined;
      const value = store[property];
      return typeof value === 'function' ? (value as Function).bind(store) : value;
    },
  });
}
