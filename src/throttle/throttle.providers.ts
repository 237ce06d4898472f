import { Logger, type OnApplicationShutdown, type OnModuleInit, type Provider, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { AuthConfigError } from '../errors/auth-error.js';
import { InMemoryThrottleStore } from './in-memory-throttle.store.js';
import { LOGIN_THROTTLE_OPTIONS, LoginThrottle } from './login-throttle.js';
import type { ResolvedLoginThrottleOptions } from './login-throttle.options.js';
import { connectRedis, RedisThrottleStore } from './redis-throttle.store.js';
import { ThrottleCounterEntity } from './throttle.entity.js';
import { THROTTLE_STORE, type ThrottleHit, type ThrottleStore } from './throttle-store.js';
import { TypeOrmThrottleStore } from './typeorm-throttle.store.js';

/**
 * The store the options name, built when the app has every provider
 * (`onModuleInit`, like the module's other stores), so the app's DataSource or
 * Redis client is found whatever the order of its imports. A broken choice
 * fails the boot with an `AuthConfigError` naming the option.
 */
export class ConfiguredThrottleStore implements ThrottleStore, OnModuleInit, OnApplicationShutdown {
  private inner: ThrottleStore | undefined;
  private readonly logger = new Logger('AuthModule');

  constructor(
    private readonly options: ResolvedLoginThrottleOptions,
    private readonly dataSourceName: string,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onModuleInit(): Promise<void> {
    this.inner = await this.build();
  }

  async onApplicationShutdown(): Promise<void> {
    await (this.inner as Partial<OnApplicationShutdown> | undefined)?.onApplicationShutdown?.();
  }

  hit(key: string, windowMs: number): Promise<ThrottleHit> {
    return this.ready().hit(key, windowMs);
  }

  release(key: string): Promise<void> {
    return this.ready().release(key);
  }

  reset(key: string): Promise<void> {
    return this.ready().reset(key);
  }

  async purgeExpired(now?: Date): Promise<number> {
    const inner = this.ready();
    return inner.purgeExpired ? inner.purgeExpired(now) : 0;
  }

  private ready(): ThrottleStore {
    if (!this.inner) throw new Error('the throttle store is used before the module has started');
    return this.inner;
  }

  private async build(): Promise<ThrottleStore> {
    const { store, redis } = this.options;
    if (typeof store === 'object') return store;
    if (store === 'memory' || !this.options.enabled) return new InMemoryThrottleStore();
    if (store === 'redis') {
      const client = redis!.client ?? (await connectRedis(redis!.url!, 'loginThrottle.redis'));
      return new RedisThrottleStore(client, { keyPrefix: redis!.keyPrefix, ownsClient: !redis!.client });
    }
    const dataSource = await this.dataSource();
    if (!dataSource.hasMetadata(ThrottleCounterEntity)) {
      throw new AuthConfigError('loginThrottle.store', "the DataSource does not know the throttle's entity: add ...authEntities to its `entities`");
    }
    this.logger.debug(`login throttle counters in DataSource "${this.dataSourceName}"`);
    return new TypeOrmThrottleStore(dataSource);
  }

  private async dataSource(): Promise<DataSource> {
    let token: unknown;
    try {
      token = (await import('@nestjs/typeorm')).getDataSourceToken(this.dataSourceName);
    } catch {
      throw new AuthConfigError('loginThrottle.store', "'typeorm' needs @nestjs/typeorm installed and TypeOrmModule.forRoot() in the app");
    }
    try {
      return this.moduleRef.get(token as Type<DataSource>, { strict: false });
    } catch {
      throw new AuthConfigError('store', `'typeorm' needs the app's DataSource "${this.dataSourceName}" (the login throttle counts there too)`);
    }
  }
}

/** The options (validated with the module's), the store and the throttle. */
export const loginThrottleProviders: Provider[] = [
  { provide: LOGIN_THROTTLE_OPTIONS, useFactory: (o: { loginThrottle: ResolvedLoginThrottleOptions }) => o.loginThrottle, inject: [AUTH_OPTIONS] },
  {
    provide: THROTTLE_STORE,
    useFactory: (options: ResolvedLoginThrottleOptions, moduleRef: ModuleRef) => new ConfiguredThrottleStore(options, options.dataSource, moduleRef),
    inject: [LOGIN_THROTTLE_OPTIONS, ModuleRef],
  },
  LoginThrottle,
];
