import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { API_KEY_STORE, type ApiKeyStore } from '../api-keys/api-key.types.js';
import { InMemoryApiKeyStore } from '../api-keys/api-key.stores.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { CacheEntries, type CacheManagerLike } from '../persistence/cache-entries.js';
import { CacheRevocationStore, CacheUserCutoffStore } from '../revocation/cache-revocation.store.js';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../revocation/in-memory-revocation.store.js';
import { InMemoryRevocationLog, type RevocationFeed } from '../revocation/revocation-feed.js';
import { StoreLedger, type RevocationLedger } from '../revocation/revocation-ledger.js';
import { REVOCATION_STORE, USER_CUTOFF_STORE, type RevocationStore, type UserCutoffStore } from '../revocation/revocation-store.js';
import { CacheEndedSessionStore } from '../sessions/cache-ended-session.store.js';
import { InMemorySessionStore } from '../sessions/in-memory-session.store.js';
import { SESSION_STORE, type SessionStore } from '../sessions/session-store.js';
import { boundStore } from '../persistence/bounded-store.js';
import { appDataSource } from '../persistence/app-data-source.js';
import type { StoreSettings } from './store-settings.js';

/** Injection tokens of the stores, for apps that read them (after the module has initialised); each feature declares its own. */
export { SESSION_STORE, REVOCATION_STORE, USER_CUTOFF_STORE, API_KEY_STORE };

/** The stores a set makes; `ledger`, given the stores as finally chosen (the app's own among them), writes revocations. */
interface MadeStores {
  sessions: SessionStore;
  revocations: RevocationStore;
  cutoffs: UserCutoffStore;
  apiKeys: ApiKeyStore;
  feed: RevocationFeed | undefined;
  ledger?: (custom: { revocations?: RevocationStore }) => RevocationLedger;
}

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
  /** The clock-independent change log the gate polls (absent for a set of custom stores that keeps none). */
  feed: RevocationFeed | undefined;
  /** The one place revocation state is written: a revoked token, an ended session, a cut-off, each with its change-log row. */
  ledger!: RevocationLedger;
  /** The TypeORM DataSource, when the stores live in one (the PostgreSQL push channel uses it). */
  dataSource: DataSource | undefined;
  private readonly logger = new Logger('AuthModule');

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: StoreSettings,
    private readonly moduleRef: ModuleRef,
  ) {}

  async resolve(): Promise<void> {
    const { store, stores, revocation } = this.options;
    let made: MadeStores;
    if (store.type === 'memory') {
      const log = new InMemoryRevocationLog();
      const sessions = new InMemorySessionStore();
      const revocations = new InMemoryRevocationStore(log);
      const cutoffs = new InMemoryUserCutoffStore(log);
      made = {
        sessions,
        revocations,
        cutoffs,
        apiKeys: new InMemoryApiKeyStore(),
        feed: log,
        // The memory revocation and cut-off stores number their own changes; the ledger numbers the session ends.
        ledger: (custom) => new StoreLedger({ revocations: custom.revocations ?? revocations, sessions, cutoffs }, log),
      };
    } else if (store.type === 'cache') {
      made = await this.cacheStores(store);
    } else {
      this.dataSource = await this.resolveDataSource(store.dataSource);
      const typeorm = await import('./typeorm-stores.js');
      made = typeorm.createTypeOrmStores(this.dataSource);
      await typeorm.checkTables(this.dataSource, store.dataSource);
    }
    // Every store call is bounded: one that fails or hangs is a 503 `auth_unavailable` within storeTimeoutMs.
    const bound = <T extends object>(value: T, name: string): T => boundStore(value, revocation.storeTimeoutMs, name);
    this.sessions = bound(stores.sessions ?? made.sessions, 'sessions');
    this.revocations = bound(stores.revocations ?? made.revocations, 'revocations');
    this.cutoffs = bound(stores.cutoffs ?? made.cutoffs, 'cutoffs');
    this.apiKeys = bound(stores.apiKeys ?? made.apiKeys, 'apiKeys');
    // A custom session or cut-off store writes no change log: the gate then polls the stores by time.
    const logged = !stores.sessions && !stores.cutoffs && made.feed !== undefined && made.ledger !== undefined;
    this.feed = logged ? bound(made.feed!, 'feed') : undefined;
    this.ledger = bound(
      logged
        ? made.ledger!({ revocations: stores.revocations })
        : new StoreLedger({ revocations: this.revocations, sessions: this.sessions, cutoffs: this.cutoffs }),
      'ledger',
    );
  }

  /**
   * `store: 'cache'`: revoked jtis, cut-offs and the end of each session in the app's CACHE_MANAGER (shared by every
   * instance on one Redis); the sessions themselves (their refresh chain, whose rotation must be one atomic
   * compare-and-swap that a Keyv cache cannot do) and API keys in this instance's memory, or in TypeORM with
   * `sessions: 'typeorm'`. No change log: the gate reads the cache per request (`strict`).
   */
  private async cacheStores(store: Extract<StoreSettings['store'], { type: 'cache' }>) {
    let token: unknown;
    try {
      token = (await import('@nestjs/cache-manager')).CACHE_MANAGER;
    } catch {
      throw new AuthConfigError(
        'store',
        "'cache' needs @nestjs/cache-manager, cache-manager and keyv installed (npm install @nestjs/cache-manager cache-manager keyv), and CacheModule.register() in the app",
      );
    }
    let cache: CacheManagerLike | undefined;
    try {
      cache = this.moduleRef.get(token as string, { strict: false }) as CacheManagerLike;
    } catch {
      cache = undefined;
    }
    if (!cache) throw new AuthConfigError('store', "'cache' needs the app's CACHE_MANAGER: import CacheModule.register() in the app");
    let entries: CacheEntries;
    try {
      entries = new CacheEntries(cache, store.keyPrefix);
    } catch (err) {
      throw new AuthConfigError('store', `'cache': ${(err as Error).message}`);
    }
    const { maxTokenLifetime, clockTolerance } = this.options.jwt;
    const keepMs = (maxTokenLifetime + clockTolerance) * 1000;
    const clock = () => this.options.clock.now();
    let sessions: SessionStore;
    let apiKeys: ApiKeyStore;
    if (store.sessions === 'typeorm') {
      this.dataSource = await this.resolveDataSource(store.dataSource);
      const typeorm = await import('./typeorm-stores.js');
      const made = typeorm.createTypeOrmStores(this.dataSource);
      await typeorm.checkTables(this.dataSource, store.dataSource);
      // Sessions in the database are shared already: their end needs no copy in the cache.
      sessions = made.sessions;
      apiKeys = made.apiKeys;
    } else {
      sessions = new CacheEndedSessionStore(new InMemorySessionStore(), entries, keepMs, clock);
      apiKeys = new InMemoryApiKeyStore();
    }
    this.logger.debug(`revocations and cut-offs in CACHE_MANAGER (prefix "${store.keyPrefix}"), sessions in ${store.sessions}`);
    return {
      sessions,
      revocations: new CacheRevocationStore(entries, clock),
      cutoffs: new CacheUserCutoffStore(entries, keepMs, clock),
      apiKeys,
      feed: undefined,
    };
  }

  private async resolveDataSource(name: string): Promise<DataSource> {
    const dataSource = await appDataSource(this.moduleRef, { name, option: 'store', holds: 'sessions and revocations' });
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
