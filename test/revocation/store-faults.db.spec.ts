/**
 * Store faults on a real PostgreSQL behind a TCP proxy the test controls
 * (forwarding, black-holing, resetting): every store call is bounded, strict
 * mode answers auth_unavailable, cached mode recovers once the store answers.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AuthError } from '../../src/errors/auth-error.js';
import { TypeOrmApiKeyStore } from '../../src/api-keys/api-key.stores.js';
import { boundStores } from '../../src/persistence/bounded-store.js';
import { authEntities, authMigrations } from '../../src/index.js';
import { createTestDatabase } from '../support/databases.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { RevocationUnit, typeOrmGateStores } from '../support/gate-stores.js';

const pgUrl = process.env.AUTH_TEST_POSTGRES_URL;
// Skipped only without a PostgreSQL to cut through the TCP proxy (AUTH_TEST_POSTGRES_URL; .ci/run sets it).
const describePg = pgUrl ? describe : describe.skip;
const TIMEOUT = 300;

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describePg('store faults through a TCP proxy (PostgreSQL)', () => {
  let proxy: TcpProxy;
  let ds: DataSource;
  let dbUrl: string;

  beforeAll(async () => {
    proxy = await new TcpProxy(Number(new URL(pgUrl!).port || 5432)).start();
    dbUrl = await createTestDatabase('postgres', pgUrl!);
    const setup = await new DataSource({ type: 'postgres', url: dbUrl, entities: authEntities, migrations: authMigrations.postgres }).initialize();
    await setup.runMigrations();
    await setup.destroy();
    ds = await new DataSource({ type: 'postgres', url: proxy.url(dbUrl), entities: authEntities, extra: { max: 4 } }).initialize();
  });

  beforeEach(() => proxy.forward());

  afterAll(async () => {
    proxy?.forward();
    await ds?.destroy();
    await proxy?.stop();
  });

  test('strict: a black-holed store gives auth_unavailable, not a hang; the answer returns once the path does', async () => {
    const gate = new RevocationUnit(typeOrmGateStores(ds), {
      consistency: 'strict',
      syncIntervalMs: 1000,
      accessTokenTtl: 900,
      maxTokenLifetime: 86_400,
      storeTimeoutMs: TIMEOUT,
    });
    await gate.start();
    const claims = { jti: 'strict-1', sid: 'no-such-session', sub: 'u1', iat: 1 };
    expect(await gate.check(claims)).toBeNull();
    proxy.blackhole();
    expect(await gate.check(claims)).toBe('auth_unavailable');
    await expect(gate.revokeJti('strict-2', new Date(Date.now() + 60_000))).rejects.toMatchObject({ code: 'auth_unavailable' });
    proxy.forward();
    await waitFor('strict check answers again', async () => (await gate.check(claims)) === null);
    await gate.stop();
  });

  test('strict: connections reset by the network give auth_unavailable too', async () => {
    const gate = new RevocationUnit(typeOrmGateStores(ds), {
      consistency: 'strict',
      syncIntervalMs: 1000,
      accessTokenTtl: 900,
      maxTokenLifetime: 86_400,
      storeTimeoutMs: TIMEOUT,
    });
    await gate.start();
    proxy.refuse(true);
    proxy.reset();
    expect(await gate.check({ jti: 'reset-1', sub: 'u1', iat: 1 })).toBe('auth_unavailable');
    proxy.forward();
    await waitFor('strict check answers again', async () => (await gate.check({ jti: 'reset-1', sub: 'u1', iat: 1 })) === null);
    await gate.stop();
  });

  test('cached: a poll hung on a black-holed path does not stick; the gate fails closed after the stale bound and recovers at the next poll', async () => {
    let skew = 0;
    const clock = () => Date.now() + skew;
    const gate = new RevocationUnit(
      typeOrmGateStores(ds),
      { consistency: 'cached', syncIntervalMs: 200, accessTokenTtl: 900, maxTokenLifetime: 86_400, storeTimeoutMs: TIMEOUT },
      clock,
    );
    await gate.start();
    const claims = { jti: 'cached-1', sub: 'u1', iat: 1 };
    expect(gate.check(claims)).toBeNull();
    proxy.blackhole();
    expect(await gate.syncNow()).toBe(false);
    skew = 10_000; // past the stale bound without sleeping for it
    expect(gate.check(claims)).toBe('auth_unavailable');
    proxy.forward();
    // The timer's next poll brings it back (the old in-flight flag stayed set forever).
    await waitFor('the cached gate to recover', () => gate.check(claims) === null);
    await gate.stop();
  });

  test('every store method is bounded: black-holed calls reject with auth_unavailable/store_timeout, refused ones with store_failed', async () => {
    const { feed, ...gateStores } = typeOrmGateStores(ds);
    const stores = boundStores({ ...gateStores, feed: feed!, apiKeys: new TypeOrmApiKeyStore(ds) }, TIMEOUT);
    const now = new Date();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['revocations.revoke', () => stores.revocations.revoke('b1', now)],
      ['revocations.isRevoked', () => stores.revocations.isRevoked('b1')],
      ['revocations.purgeExpired', () => stores.revocations.purgeExpired(now)],
      ['revocations.revokedSince', () => stores.revocations.revokedSince!(now)],
      ['sessions.create', () => stores.sessions.create({ id: 'bs', userId: 'u', currentJti: 'j', createdAt: now, expiresAt: now })],
      ['sessions.find', () => stores.sessions.find('bs')],
      ['sessions.rotate', () => stores.sessions.rotate('bs', 'j', 'k', now)],
      ['sessions.rotatedOutAt', () => stores.sessions.rotatedOutAt('bs', 'j')],
      ['sessions.end', () => stores.sessions.end('bs', now, 'x')],
      ['sessions.endAllForUser', () => stores.sessions.endAllForUser('u', now, 'x')],
      ['sessions.listForUser', () => stores.sessions.listForUser('u', now)],
      ['sessions.endedSince', () => stores.sessions.endedSince(now)],
      ['sessions.purgeEndedBefore', () => stores.sessions.purgeEndedBefore(now)],
      ['cutoffs.set', () => stores.cutoffs.set('u', now)],
      ['cutoffs.get', () => stores.cutoffs.get('u')],
      ['cutoffs.since', () => stores.cutoffs.since(now)],
      ['cutoffs.purgeOlderThan', () => stores.cutoffs.purgeOlderThan(now)],
      ['feed.changesAfter', () => stores.feed.changesAfter(0, 10)],
      ['ledger.revokeToken', () => stores.ledger.revokeToken({ jti: 'b2', expiresAt: now })],
      ['ledger.endSession', () => stores.ledger.endSession('bs', now, 'x', { jti: 'b3', expiresAt: now })],
      ['ledger.cutOffUser', () => stores.ledger.cutOffUser('u', now, 'x')],
      ['ledger.purgeExpired', () => stores.ledger.purgeExpired(now, now, now)],
      ['apiKeys.findByPrefix', () => stores.apiKeys.findByPrefix('p')],
      ['apiKeys.list', () => stores.apiKeys.list()],
      ['apiKeys.revoke', () => stores.apiKeys.revoke('k', now)],
      ['apiKeys.touch', () => stores.apiKeys.touch(new Map([['k', now]]))],
      [
        'apiKeys.insert',
        () =>
          stores.apiKeys.insert({
            id: 'k',
            name: 'n',
            prefix: 'p',
            secretHash: 'h',
            permissions: [],
            userId: null,
            createdAt: now,
            expiresAt: null,
            lastUsedAt: null,
            revokedAt: null,
          }),
      ],
    ];
    proxy.blackhole();
    for (const [name, call] of calls) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect([
        name,
        err instanceof AuthError && err.code,
        err instanceof AuthError && (err as AuthError & { reason?: string }).reason
          ? (err as AuthError & { reason?: string }).reason
          : (err as Error)?.message,
      ]).toEqual([name, 'auth_unavailable', 'store_timeout']);
    }
    proxy.forward();
    await waitFor(
      'the pool to drain',
      async () =>
        await stores.cutoffs.get('u').then(
          () => true,
          () => false,
        ),
    );
    proxy.refuse(true);
    proxy.reset();
    const err = await stores.sessions.find('bs').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe('auth_unavailable');
    expect((err as AuthError & { reason?: string }).reason ?? (err as Error).message).toBe('store_failed');
  });
});
