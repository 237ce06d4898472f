/**
 * Push channels on the real servers: PostgreSQL LISTEN/NOTIFY and Redis
 * pub/sub, the reader's channel behind a TCP proxy the test controls.
 * Polling stays as the safety net: what is published while the reader's
 * channel is down reaches it by the next poll. The polls run every
 * `syncIntervalMs` whatever the channel's state (channel-hints.db.spec.ts).
 */
import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, test } from '@jest/globals';
import { DataSource } from 'typeorm';
import { authEntities, authMigrations } from '../../src/index.js';
import { PostgresRevocationChannel } from '../../src/revocation/postgres-revocation.channel.js';
import { RedisRevocationChannel } from '../../src/revocation/redis-revocation.channel.js';
import type { RevocationChannel } from '../../src/revocation/revocation-channel.js';
import { createTestDatabase, uniqueTestName } from '../support/databases.js';
import { TypeOrmSessionStore } from '../../src/sessions/typeorm-session.store.js';
import { RevocationUnit, typeOrmGateStores } from '../support/gate-stores.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { describeEachOf, runnableVariants, serviceUrl } from '../support/services.js';

const pgUrl = serviceUrl('postgres');
// Opt-in like the databases: no default URL, so a bare machine skips instead of failing or hanging.
const redisUrl = serviceUrl('redis') ?? '';
const runnable = runnableVariants('revocation push channels', { postgres: ['postgres'], redis: ['postgres', 'redis'] });

async function waitFor(what: string, predicate: () => boolean, deadlineMs = 15_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// Each block's own database (set in beforeAll); Redis channels are server-wide, so the name is unique to this run.
let dbUrl: string;
const redisChannel = `revocation:test:${uniqueTestName('run')}`;
const channels: Record<string, { port: number; make(url?: string): RevocationChannel }> = {
  postgres: {
    port: pgUrl ? Number(new URL(pgUrl).port || 5432) : 5432,
    make: (url) => new PostgresRevocationChannel({ connection: url ?? dbUrl, channel: 'revocation_test' }),
  },
  redis: {
    port: redisUrl ? Number(new URL(redisUrl).port || 6379) : 6379,
    make: (url) => new RedisRevocationChannel({ url: url ?? redisUrl, channel: redisChannel }),
  },
};

describeEachOf(runnable)('%s channel', (name) => {
  const kind = channels[name]!;
  let ds: DataSource;
  let proxy: TcpProxy;
  let writer: RevocationUnit;
  let reader: RevocationUnit;
  const exp = () => new Date(Date.now() + 3_600_000);
  const refused = (jti: string) => reader.check({ jti, sub: 'u1', iat: 1 }) === 'token_revoked';

  beforeAll(async () => {
    dbUrl = await createTestDatabase('postgres', pgUrl!);
    ds = await new DataSource({ type: 'postgres', url: dbUrl, entities: authEntities, migrations: authMigrations.postgres }).initialize();
    await ds.runMigrations();
    proxy = await new TcpProxy(kind.port).start();
    const opts = {
      consistency: 'cached' as const,
      syncIntervalMs: 300,
      accessTokenTtl: 900,
      maxTokenLifetime: 86_400,
      storeTimeoutMs: 500,
      channelSyncIntervalMs: 600_000,
    };
    writer = new RevocationUnit(typeOrmGateStores(ds), { ...opts, channel: kind.make() });
    reader = new RevocationUnit(typeOrmGateStores(ds), { ...opts, channel: kind.make(proxy.url(name === 'postgres' ? dbUrl : redisUrl)) });
    await writer.start();
    await reader.start();
    await waitFor('both channels up', () => writer.channelAlive && reader.channelAlive);
  });

  afterEach(() => proxy.forward());

  afterAll(async () => {
    await writer?.stop();
    await reader?.stop();
    await proxy?.stop();
    await ds?.destroy();
  });

  test('a revocation and a session end reach the other instance (the hint-only path is proved in propagation.db.spec.ts)', async () => {
    await writer.revokeJti(`${name}-push-1`, exp());
    await waitFor('the pushed revocation', () => refused(`${name}-push-1`));
    // A session end travels as its row in the change log (the channel only hints): end it in the store first, as SessionService does.
    const sessions = new TypeOrmSessionStore(ds);
    const now = new Date();
    await sessions.create({ id: `${name}-session-1`, userId: 'u1', currentJti: 'j', createdAt: now, expiresAt: new Date(now.getTime() + 3_600_000) });
    await writer.endSession(`${name}-session-1`, now);
    await waitFor('the pushed session end', () => reader.check({ jti: 'x', sid: `${name}-session-1`, sub: 'u1', iat: 1 }) === 'token_revoked');
  });

  test('channel connection reset: marked down, what is published meanwhile arrives by the poll; restored: pushes again', async () => {
    proxy.refuse(true);
    proxy.reset();
    await waitFor('the reader to see its channel down', () => !reader.channelAlive);
    await writer.revokeJti(`${name}-lost-1`, exp());
    // Lost on the channel; the poll (back at syncIntervalMs while the channel is down) finds it.
    await waitFor('the poll to catch the lost message', () => refused(`${name}-lost-1`));
    proxy.forward();
    await waitFor('the channel to come back', () => reader.channelAlive);
    await writer.revokeJti(`${name}-push-2`, exp());
    await waitFor('a push after the reconnect', () => refused(`${name}-push-2`));
  });

  test('channel black-holed: the heartbeat notices, polling takes over', async () => {
    proxy.blackhole();
    await waitFor('the heartbeat to mark the channel down', () => !reader.channelAlive);
    await writer.revokeJti(`${name}-hole-1`, exp());
    await waitFor('the poll to catch it', () => refused(`${name}-hole-1`));
    proxy.forward();
    proxy.reset();
    await waitFor('the channel to come back', () => reader.channelAlive);
  });
});
