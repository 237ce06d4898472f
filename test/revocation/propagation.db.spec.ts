/**
 * Four instances on one PostgreSQL (and one Redis): a revocation on any of
 * them reaches the three others through the channel alone (the polls are set
 * far apart, so nothing else could deliver it). Timings are measured by
 * bench/propagation.mjs, not asserted here.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { DataSource } from 'typeorm';
import { authEntities, authMigrations } from '../../src/index.js';
import { PostgresRevocationChannel } from '../../src/revocation/postgres-revocation.channel.js';
import { RedisRevocationChannel } from '../../src/revocation/redis-revocation.channel.js';
import type { RevocationChannel } from '../../src/revocation/revocation-channel.js';
import { createTestDatabase, uniqueTestName } from '../support/databases.js';
import { TypeOrmSessionStore } from '../../src/sessions/typeorm-session.store.js';
import { RevocationUnit, typeOrmGateStores } from '../support/gate-stores.js';
import { describeEachOf, runnableVariants, serviceUrl } from '../support/services.js';

const pgUrl = serviceUrl('postgres');
// Opt-in like the databases: no default URL, so a bare machine skips instead of failing or hanging.
const redisUrl = serviceUrl('redis') ?? '';
const runnable = runnableVariants('revocation propagation to 4 instances', { postgres: ['postgres'], redis: ['postgres', 'redis'] });

// The suite's own database (set in beforeAll); Redis channels are server-wide, so the name is unique to this run.
let dbUrl: string;
const redisChannel = `revocation:prop:${uniqueTestName('run')}`;
const make: Record<string, () => RevocationChannel> = {
  postgres: () => new PostgresRevocationChannel({ connection: dbUrl, channel: 'revocation_prop' }),
  redis: () => new RedisRevocationChannel({ url: redisUrl, channel: redisChannel }),
};

async function waitFor(what: string, predicate: () => boolean, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describeEachOf(runnable)('propagation over %s to 4 instances', (name) => {
  const fleet: Array<{ ds: DataSource; gate: RevocationUnit }> = [];

  beforeAll(async () => {
    dbUrl = await createTestDatabase('postgres', pgUrl!);
    const setup = await new DataSource({ type: 'postgres', url: dbUrl, entities: authEntities, migrations: authMigrations.postgres }).initialize();
    await setup.runMigrations();
    await setup.destroy();
    for (let i = 0; i < 4; i++) {
      const ds = await new DataSource({ type: 'postgres', url: dbUrl, entities: authEntities, extra: { max: 2 } }).initialize();
      const gate = new RevocationUnit(typeOrmGateStores(ds), {
        consistency: 'cached',
        syncIntervalMs: 60_000,
        channelSyncIntervalMs: 600_000,
        accessTokenTtl: 900,
        maxTokenLifetime: 86_400,
        channel: make[name]!(),
      });
      await gate.start();
      fleet.push({ ds, gate });
    }
    await waitFor('every channel up', () => fleet.every((x) => x.gate.channelAlive));
  });

  afterAll(async () => {
    for (const x of fleet) {
      await x.gate.stop();
      await x.ds.destroy();
    }
  });

  test('20 revocations, from each instance in turn, each refused by the three others', async () => {
    for (let i = 0; i < 20; i++) {
      const writer = fleet[i % 4]!;
      const jti = `${name}-prop-${i}`;
      await writer.gate.revokeJti(jti, new Date(Date.now() + 3_600_000));
      const others = fleet.filter((x) => x !== writer);
      await waitFor(`${jti} everywhere`, () => others.every((x) => x.gate.check({ jti, sub: 'u', iat: 1 }) === 'token_revoked'));
    }
    expect(fleet.every((x) => x.gate.check({ jti: `${name}-prop-19`, sub: 'u', iat: 1 }) === 'token_revoked')).toBe(true);
  });

  test('cut-offs and ended sessions travel too', async () => {
    const cutAt = Date.now();
    await fleet[0]!.gate.cutOffUser('prop-user', new Date(cutAt));
    // A session end travels as its row in the change log (the channel only hints): end it in the store first, as SessionService does.
    const sessions = new TypeOrmSessionStore(fleet[1]!.ds);
    const now = new Date();
    await sessions.create({ id: 'prop-session', userId: 'u', currentJti: 'j', createdAt: now, expiresAt: new Date(now.getTime() + 3_600_000) });
    await fleet[1]!.gate.endSession('prop-session', now);
    await waitFor('the cut-off', () =>
      fleet.slice(1).every((x) => x.gate.check({ jti: 'a', sub: 'prop-user', iat: Math.floor(cutAt / 1000) - 1 }) === 'token_revoked'),
    );
    await waitFor('the session end', () =>
      [0, 2, 3].every((i) => fleet[i]!.gate.check({ jti: 'b', sid: 'prop-session', sub: 'u', iat: 1 }) === 'token_revoked'),
    );
  });
});
