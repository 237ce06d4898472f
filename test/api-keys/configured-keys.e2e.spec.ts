import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { io, type Socket } from 'socket.io-client';
import { ApiKeyService, AuthModule, type AuditEvent, type AuthModuleOptions } from '../../src/index.js';
import { ADAPTERS, bootApp, initError, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { CapturingLogger } from '../support/logger.js';
import { bootTransportApp, nextEvent } from '../support/transports.js';
import { EventsGateway } from '../transports/gateways.js';

/** API keys given in the configuration (`apiKeys.keys`), beside the stored ones. */
const READER_KEY = randomBytes(32).toString('base64url');
const WRITER_KEY = randomBytes(32).toString('base64url');
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

const apiKeys = (): NonNullable<AuthModuleOptions['apiKeys']> => ({
  enabled: true,
  keys: [
    // In clear, as in development.
    { name: 'reader', key: READER_KEY, permissions: ['articles:read'] },
    // As a digest, as production configuration holds it; with a user id of its own.
    { name: 'writer', sha256: sha256(WRITER_KEY), permissions: ['articles:read', 'articles:write'], userId: 'svc-writer' },
  ],
});

describe.each(ADAPTERS)('API keys from the configuration over HTTP, %s', (adapter) => {
  let app: INestApplication;
  const logger = new CapturingLogger();
  const events: AuditEvent[] = [];

  beforeAll(async () => {
    app = await bootApp(
      { jwt: { secret: SECRET }, apiKeys: apiKeys(), audit: { emit: (e) => void events.push(e) } },
      { adapter, controllers: ALL_CONTROLLERS, logger },
    );
  });
  afterAll(() => app.close());

  const get = (path: string, key: string) => request(app.getHttpServer()).get(path).set('x-api-key', key);

  test('a key in clear and a key given by its SHA-256 authenticate, with exactly their permissions', async () => {
    const reader = await get('/context', READER_KEY);
    expect(reader.status).toBe(200);
    expect(reader.body.auth).toMatchObject({ backend: 'api_key', userId: 'apikey:config:reader', permissions: ['articles:read'] });
    expect((await get('/articles', READER_KEY)).status).toBe(200);
    const denied = await request(app.getHttpServer()).post('/articles').set('x-api-key', READER_KEY);
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('permission_denied');

    const writer = await get('/context', WRITER_KEY);
    expect(writer.body.auth).toMatchObject({ backend: 'api_key', userId: 'svc-writer', permissions: ['articles:read', 'articles:write'] });
    expect((await request(app.getHttpServer()).post('/articles').set('x-api-key', WRITER_KEY)).status).toBe(201);
    // Staff and superuser are never a key's.
    expect((await get('/admin/stats', WRITER_KEY)).status).toBe(403);
  });

  test('a wrong key, a digest sent as the key, or a near miss: 401 api_key_invalid', async () => {
    for (const wrong of [READER_KEY.slice(0, -1) + (READER_KEY.endsWith('A') ? 'B' : 'A'), sha256(WRITER_KEY), `${READER_KEY}x`, 'short']) {
      const res = await get('/articles', wrong);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('api_key_invalid');
    }
  });

  test('stored keys work beside them', async () => {
    const { key, id } = await app.get(ApiKeyService).create({ name: 'stored', permissions: ['articles:read'] });
    const res = await get('/context', key);
    expect(res.body.auth).toMatchObject({ backend: 'api_key', userId: `apikey:${id}` });
    // list() shows the store's keys only: a configured key is never returned.
    const listed = JSON.stringify(await app.get(ApiKeyService).list());
    expect(listed).not.toContain('reader');
    expect(listed).not.toContain(READER_KEY);
  });

  test('the keys and their digests appear in no response, log line or audit event', async () => {
    await get('/articles', READER_KEY);
    await get('/articles', `${WRITER_KEY}0`);
    const seen = [logger.text, JSON.stringify(events)].join('\n');
    for (const secret of [READER_KEY, WRITER_KEY, sha256(READER_KEY), sha256(WRITER_KEY)]) expect(seen).not.toContain(secret);
    const res = await get('/context', READER_KEY);
    expect(JSON.stringify(res.body)).not.toContain(READER_KEY);
  });
});

describe('API keys from the configuration over socket.io', () => {
  let app: INestApplication;
  let url: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    ({ app, url } = await bootTransportApp({ jwt: { secret: SECRET }, apiKeys: apiKeys() }, { providers: [EventsGateway] }));
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(() => app.close());

  const call = (socket: Socket, event: string) =>
    new Promise<{ ack?: unknown; exception?: { code?: string } }>((resolve) => {
      socket.once('exception', (exception: { code?: string }) => resolve({ exception }));
      socket.emit(event, undefined, (ack: unknown) => resolve({ ack }));
    });
  const connect = async (key: string) => {
    const socket = io(`${url}/events`, { transports: ['websocket'], reconnection: false, extraHeaders: { 'x-api-key': key } });
    sockets.push(socket);
    await nextEvent(socket, 'connect');
    return socket;
  };

  test('the handshake carries the key: its principal and its permissions hold per message', async () => {
    const reader = await connect(READER_KEY);
    expect((await call(reader, 'whoami')).ack).toMatchObject({ id: 'apikey:config:reader' });
    expect((await call(reader, 'write')).exception?.code).toBe('permission_denied');
    const writer = await connect(WRITER_KEY);
    expect((await call(writer, 'write')).ack).toEqual({ written: true });
  });

  test('a wrong key is refused at the handshake', async () => {
    const socket = io(`${url}/events`, { transports: ['websocket'], reconnection: false, extraHeaders: { 'x-api-key': `${READER_KEY}!` } });
    sockets.push(socket);
    const error = await nextEvent<Error & { data?: { code?: string } }>(socket, 'connect_error');
    expect(error.data?.code ?? error.message).toMatch(/api_key_invalid/);
  });
});

describe('API keys from the configuration: broken ones fail the boot, naming the option and never the key', () => {
  const boot = (keys: unknown, enabled = true) =>
    initError([AuthModule.forRoot({ jwt: { secret: SECRET }, apiKeys: { enabled, keys: keys as never } })]);
  const short = 'too-short-a-key-0123456789';

  test.each([
    ['a key in clear shorter than 32 characters', [{ name: 'a', key: short, permissions: [] }], 'apiKeys.keys[0].key'],
    [
      'two keys with one name',
      [
        { name: 'a', key: READER_KEY, permissions: [] },
        { name: 'a', key: WRITER_KEY, permissions: [] },
      ],
      'apiKeys.keys[1].name',
    ],
    [
      'one key twice (in clear and as its digest)',
      [
        { name: 'a', key: READER_KEY, permissions: [] },
        { name: 'b', sha256: sha256(READER_KEY), permissions: [] },
      ],
      'apiKeys.keys[1]',
    ],
    ['both key and sha256', [{ name: 'a', key: READER_KEY, sha256: sha256(READER_KEY), permissions: [] }], 'apiKeys.keys[0]'],
    ['neither key nor sha256', [{ name: 'a', permissions: [] }], 'apiKeys.keys[0]'],
    ['a sha256 that is not 64 hex characters', [{ name: 'a', sha256: 'abc', permissions: [] }], 'apiKeys.keys[0].sha256'],
    ['permissions missing', [{ name: 'a', key: READER_KEY }], 'apiKeys.keys[0].permissions'],
    ['an unknown field', [{ name: 'a', key: READER_KEY, permissions: [], scopes: [] }], 'apiKeys.keys[0].scopes'],
    ['not an array', { name: 'a' }, 'apiKeys.keys'],
  ])('%s', async (_, keys, option) => {
    const err = await boot(keys);
    expect(err?.name).toBe('AuthConfigError');
    expect(err?.message).toContain(`"${option}"`);
    for (const secret of [READER_KEY, WRITER_KEY, short, sha256(READER_KEY)]) expect(err?.message).not.toContain(secret);
  });

  test('keys while apiKeys.enabled is false', async () => {
    const err = await boot([{ name: 'a', key: READER_KEY, permissions: [] }], false);
    expect(err?.message).toContain('"apiKeys.keys"');
  });
});
