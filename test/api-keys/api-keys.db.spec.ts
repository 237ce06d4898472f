import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Get, Req, type INestApplication } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import {
  ApiKeyService,
  AuthService,
  PermissionRequired,
  StaffOnly,
  SuperuserOnly,
  type AuditEvent,
  type AuthModuleOptions,
} from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { enabledDatabases, migratedDataSource, type DbTarget } from '../support/databases.js';
import { CapturingLogger } from '../support/logger.js';
import { eventually, sleep } from '../support/time.js';

const SYNC_MS = 50;

@Controller('keyed')
class KeyedController {
  @PermissionRequired('articles:read')
  @Get('articles')
  articles(@Req() req: { auth: unknown }) {
    return { auth: req.auth };
  }

  @PermissionRequired('articles:write')
  @Get('write')
  write() {
    return { ok: true };
  }

  @StaffOnly()
  @Get('staff')
  staff() {
    return { ok: true };
  }

  @SuperuserOnly()
  @Get('admin')
  admin() {
    return { ok: true };
  }
}

type Target = DbTarget | { name: 'memory' };
const targets: Target[] = [{ name: 'memory' }, ...enabledDatabases()];

describe.each(targets)('API keys on $name', (target) => {
  const apps: INestApplication[] = [];
  const events: AuditEvent[] = [];
  const logger = new CapturingLogger();

  async function boot(): Promise<INestApplication> {
    const options: AuthModuleOptions = {
      jwt: { secret: SECRET },
      apiKeys: { enabled: true },
      revocation: { syncIntervalMs: SYNC_MS },
      audit: { emit: (e) => void events.push(e) },
      store: target.name === 'memory' ? 'memory' : 'typeorm',
    };
    const imports = 'options' in target ? [TypeOrmModule.forRoot(target.options())] : [];
    const app = await bootApp(options, { controllers: [KeyedController], imports, logger });
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    if ('options' in target) {
      await target.reset();
      await (await migratedDataSource(target)).destroy();
    }
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  test('a key authenticates with backend api_key and exactly its permissions; staff/superuser are never satisfied', async () => {
    const app = await boot();
    const keys = app.get(ApiKeyService);
    const { id, key } = await keys.create({ name: 'reporting', permissions: ['articles:read'] });
    expect(key).toMatch(/^nak_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    const http = request(app.getHttpServer());
    const ok = await http.get('/keyed/articles').set('x-api-key', key);
    expect(ok.status).toBe(200);
    expect(ok.body.auth).toEqual({ userId: `apikey:${id}`, isStaff: false, isSuperuser: false, permissions: ['articles:read'], backend: 'api_key' });
    expect(JSON.stringify(ok.body)).not.toContain(key);
    for (const path of ['/keyed/write', '/keyed/staff', '/keyed/admin']) {
      const denied = await http.get(path).set('x-api-key', key);
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('permission_denied');
    }
    const forUser = await keys.create({ name: 'bot', permissions: ['articles:read'], userId: 'user-7' });
    expect((await http.get('/keyed/articles').set('x-api-key', forUser.key)).body.auth.userId).toBe('user-7');
  });

  test('invalid, tampered, revoked and expired keys are 401 api_key_invalid', async () => {
    const app = await boot();
    const keys = app.get(ApiKeyService);
    const http = request(app.getHttpServer());
    const good = await keys.create({ name: 'k1', permissions: ['articles:read'] });
    const tampered = good.key.slice(0, -2) + (good.key.endsWith('AA') ? 'BB' : 'AA');
    for (const bad of ['nope', tampered, `nak_AAAAAAAAAAAA_${'A'.repeat(43)}`]) {
      const res = await http.get('/keyed/articles').set('x-api-key', bad);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('api_key_invalid');
    }
    await keys.revoke(good.id);
    expect((await http.get('/keyed/articles').set('x-api-key', good.key)).body.code).toBe('api_key_invalid');

    const soon = await keys.create({ name: 'short', permissions: ['articles:read'], expiresAt: new Date(Date.now() + 300) });
    expect((await http.get('/keyed/articles').set('x-api-key', soon.key)).status).toBe(200);
    // Real time on purpose: the key's expiresAt must have passed.
    await sleep(400);
    expect((await http.get('/keyed/articles').set('x-api-key', soon.key)).body.code).toBe('api_key_invalid');
    expect(events.filter((e) => e.type === 'api_key.rejected').map((e) => e.reason?.split(' ')[0])).toEqual(
      expect.arrayContaining(['malformed', 'wrong_secret', 'unknown_prefix', 'revoked', 'expired']),
    );
  });

  test('a bearer token and an API key together are refused with 401 token_invalid', async () => {
    const app = await boot();
    const { key } = await app.get(ApiKeyService).create({ name: 'both', permissions: ['articles:read'] });
    const token = await app.get(AuthService).createToken({ sub: 'u1', permissions: ['articles:read'] });
    const res = await request(app.getHttpServer()).get('/keyed/articles').set('x-api-key', key).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('token_invalid');
  });

  test('list shows no secret, and records the last use in batches', async () => {
    const app = await boot();
    const keys = app.get(ApiKeyService);
    const created = await keys.create({ name: 'listed', permissions: ['articles:read'], userId: 'u9' });
    await request(app.getHttpServer()).get('/keyed/articles').set('x-api-key', created.key);
    const listed = (await keys.list()).find((k) => k.id === created.id)!;
    expect(listed).toMatchObject({ id: created.id, name: 'listed', permissions: ['articles:read'], userId: 'u9' });
    expect(listed.lastUsedAt).toBeInstanceOf(Date);
    const text = JSON.stringify(await keys.list());
    const secret = created.key.split('_').slice(2).join('_');
    expect(text).not.toContain(secret);
    expect(text).not.toMatch(/secretHash|[0-9a-f]{64}/);
    expect(logger.text).not.toContain(secret);
  });

  if (target.name !== 'memory') {
    test('a second instance on the same database sees a revocation within syncIntervalMs', async () => {
      const a = await boot();
      const b = await boot();
      const { id, key } = await a.get(ApiKeyService).create({ name: 'shared', permissions: ['articles:read'] });
      expect((await request(b.getHttpServer()).get('/keyed/articles').set('x-api-key', key)).status).toBe(200);
      await a.get(ApiKeyService).revoke(id);
      // b keeps the verified key for up to syncIntervalMs, then reads the row again: wait for that, bounded.
      await eventually(
        async () => (await request(b.getHttpServer()).get('/keyed/articles').set('x-api-key', key)).status === 401,
        'the other instance to refuse the revoked key',
        5000,
      ).catch(() => undefined);
      const res = await request(b.getHttpServer()).get('/keyed/articles').set('x-api-key', key);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('api_key_invalid');
    });
  }

  test('create validates its input', async () => {
    const app = await boot();
    const keys = app.get(ApiKeyService);
    await expect(keys.create({ name: '', permissions: [] })).rejects.toThrow(/name/);
    await expect(keys.create({ name: 'x', permissions: [''] })).rejects.toThrow(/permissions/);
    await expect(keys.create({ name: 'x', permissions: [], expiresAt: new Date(Date.now() - 1000) })).rejects.toThrow(/expiresAt/);
  });
});
