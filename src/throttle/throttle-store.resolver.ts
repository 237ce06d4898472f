import { Logger, type Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { AuthConfigError } from '../errors/auth-error.js';
import { InMemoryThrottleStore } from './in-memory-throttle.store.js';
import type { ResolvedLoginThrottleOptions } from './login-throttle.options.js';
import { connectRedis, RedisThrottleStore } from './redis-throttle.store.js';
import { ThrottleCounterEntity } from './throttle.entity.js';
import type { ThrottleStore } from './throttle-store.js';

/**
 * The store `loginThrottle.store` names, built when the module initialises (like the module's other stores), so
 * the app's DataSource or Redis client is found whatever the order of its imports. A broken choice fails the
 * boot with an `AuthConfigError` naming the option. The caller bounds it (`boundStore`) like every other store.
 */
export async function resolveThrottleStore(options: ResolvedLoginThrottleOptions, moduleRef: ModuleRef): Promise<ThrottleStore> {
  const { store, redis } = options;
  if (typeof store === 'object') return store;
  if (store === 'memory' || !options.enabled) return new InMemoryThrottleStore();
  if (store === 'redis') {
    const client = redis!.client ?? (await connectRedis(redis!.url!, 'loginThrottle.redis'));
    return new RedisThrottleStore(client, { keyPrefix: redis!.keyPrefix, ownsClient: !redis!.client });
  }
  const dataSource = await dataSourceOf(options.dataSource, moduleRef);
  if (!dataSource.hasMetadata(ThrottleCounterEntity)) {
    throw new AuthConfigError('loginThrottle.store', "the DataSource does not know the throttle's entity: add ...authEntities to its `entities`");
  }
  new Logger('AuthModule').debug(`login throttle counters in DataSource "${options.dataSource}"`);
  const { TypeOrmThrottleStore } = await import('./typeorm-throttle.store.js');
  return new TypeOrmThrottleStore(dataSource);
}

async function dataSourceOf(name: string, moduleRef: ModuleRef): Promise<DataSource> {
  let token: unknown;
  try {
    token = (await import('@nestjs/typeorm')).getDataSourceToken(name);
  } catch {
    throw new AuthConfigError('loginThrottle.store', "'typeorm' needs @nestjs/typeorm installed and TypeOrmModule.forRoot() in the app");
  }
  try {
    return moduleRef.get(token as Type<DataSource>, { strict: false });
  } catch {
    throw new AuthConfigError('store', `'typeorm' needs the app's DataSource "${name}" (the login throttle counts there too)`);
  }
}
