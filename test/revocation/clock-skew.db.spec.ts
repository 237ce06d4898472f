import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { RevocationUnit, typeOrmGateStores } from '../support/gate-stores.js';
import { TypeOrmSessionStore } from '../../src/sessions/typeorm-session.store.js';
import { enabledDatabases, migratedDataSource } from '../support/databases.js';

const options = { consistency: 'cached' as const, syncIntervalMs: 1000, accessTokenTtl: 900, maxTokenLifetime: 1_209_600 };

describe.each(enabledDatabases())('clock skew on $name', (target) => {
  let writerDs: DataSource;
  let readerDs: DataSource;
  let writer: RevocationUnit;
  let reader: RevocationUnit;
  const behind = () => Date.now() - 30_000;

  beforeAll(async () => {
    await target.reset();
    writerDs = await migratedDataSource(target);
    readerDs = await migratedDataSource(target);
    writer = new RevocationUnit(typeOrmGateStores(writerDs, behind), options, behind);
    reader = new RevocationUnit(typeOrmGateStores(readerDs), options);
    await writer.start();
    await reader.start();
    // The reader has polled since: only what is written from now on is new to it.
    await reader.syncNow();
  });

  afterAll(async () => {
    await writer?.stop();
    await reader?.stop();
    await writerDs?.destroy();
    await readerDs?.destroy();
  });

  test('a revocation, an ended session and a cut-off written by an instance 30 s behind reach the other instance at its next poll', async () => {
    const sessions = new TypeOrmSessionStore(writerDs);
    await sessions.create({ id: 'skew-s', userId: 'u1', currentJti: 'r1', createdAt: new Date(behind()), expiresAt: new Date(behind() + 3_600_000) });
    await writer.revokeJti('skew-j', new Date(Date.now() + 3_600_000), { userId: 'u1', reason: 'logout' });
    expect(await writer.endSession('skew-s', new Date(behind()))).toBe(true);
    const cutoffAt = Math.floor(behind() / 1000) * 1000;
    await writer.cutOffUser('u9', new Date(cutoffAt));

    expect(await reader.syncNow()).toBe(true);
    expect(reader.check({ jti: 'skew-j', sub: 'u1', iat: 1 })).toBe('token_revoked');
    expect(reader.check({ jti: 'other', sid: 'skew-s', sub: 'u1', iat: 1 })).toBe('token_revoked');
    expect(reader.check({ jti: 'old', sub: 'u9', iat: cutoffAt / 1000 - 5 })).toBe('token_revoked');
  });
});
