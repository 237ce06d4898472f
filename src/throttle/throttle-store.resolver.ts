import { Logger } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { appDataSource } from '../persistence/app-data-source.js';
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
  const dataSource = await appDataSource(moduleRef, {
    name: options.dataSource,
    option: 'loginThrottle.store',
    holds: "the login throttle's counters",
    entity: ThrottleCounterEntity,
  });
  new Logger('AuthModule').debug(`login throttle counters in DataSource "${options.dataSource}"`);
  const { TypeOrmThrottleStore } = await import('./typeorm-throttle.store.js');
  return new TypeOrmThrottleStore(dataSource);
}
