import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ValidationPipe, type Type } from '@nestjs/common';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, type TestAuthApp } from '@democrai/nest-auth/testing';

/** The sample app as it ships (TypeORM on a fresh SQLite file), tested through @democrai/nest-auth/testing. */
describe('sample app', () => {
  let t: TestAuthApp;

  beforeAll(async () => {
    // Read by the app module when it loads: a database of this run, a fixed secret (no development-secret warning).
    process.env.SAMPLE_DB = join(mkdtempSync(join(tmpdir(), 'sample-app-')), 'sample.sqlite');
    process.env.JWT_SECRET ??= 'sample-app-test-secret-0123456789abcdef0123';
    const { AppModule } = (await import('../src/app.module.js')) as { AppModule: Type };
    const { setupDocs } = await import('../src/docs.js');
    t = await createTestApp({
      imports: [AppModule],
      auth: 'imported',
      configure: (app) => {
        app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
        setupDocs(app);
      },
    });
  });
  afterAll(() => t?.close());

  test('readers read articles; writers write; nobody else', async () => {
    await t
      .as({ permissions: ['articles:read'] })
      .get('/articles')
      .expect(200);
    await t
      .as({ permissions: ['articles:read'] })
      .post('/articles')
      .send({ title: 'x' })
      .expect(403);
    const created = await t
      .as({ username: 'wendy', permissions: ['articles:publish'] })
      .post('/articles')
      .send({ title: 'Hello' })
      .expect(201);
    expect(created.body).toMatchObject({ title: 'Hello', author: 'wendy' });
    const anonymous = await t.request().get('/articles').expect(401);
    expect(anonymous.body.code).toBe('token_missing');
  });

  test('staff and superuser routes', async () => {
    await t.as({ isStaff: true }).get('/staff/report').expect(200);
    await t.as({ isStaff: true }).get('/admin/stats').expect(403);
    await t.as({ isSuperuser: true }).get('/admin/stats').expect(200);
  });

  test('a seeded user logs in; logout ends the session; the audit sink saw it', async () => {
    const pair = await t.login('alice', 'alice-demo-password');
    const me = await t.as(pair).get('/me').expect(200);
    expect(me.body.username).toBe('alice');
    await t.as(pair).post('/auth/logout').expect(204);
    expect((await t.as(pair).get('/me').expect(401)).body.code).toBe('token_revoked');
    expect(t.audit.ofType('login.succeeded').some((e) => e.username === 'alice')).toBe(true);
    expect(t.audit.ofType('session.ended')).not.toHaveLength(0);
  });

  test('an access token expires with the test clock', async () => {
    const token = t.accessToken({ id: 1 });
    await t.as(token).get('/me').expect(200);
    t.clock.advanceSeconds(900);
    expect((await t.as(token).get('/me').expect(401)).body.code).toBe('token_expired');
    t.clock.reset();
  });

  test('/docs serves the UI and /docs-json the document: the lock on private routes only', async () => {
    expect((await t.request().get('/docs').expect(200)).text).toContain('swagger-ui');
    const doc = (await t.request().get('/docs-json').expect(200)).body;
    // The sample runs the cookie transport for its browser page: the cookie scheme is documented too.
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer', 'cookie']);
    const ops = Object.entries(doc.paths as Record<string, Record<string, { security: unknown[] }>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op.security] as const),
    );
    const open = ops
      .filter(([, security]) => security.length === 0)
      .map(([name]) => name)
      .sort();
    expect(open).toEqual(['GET /', 'GET /health', 'GET /static/app.js', 'GET /static/style.css', 'POST /auth/login', 'POST /auth/refresh']);
    for (const [name, security] of ops) if (!open.includes(name)) expect([name, security[0]]).toEqual([name, { bearer: [] }]);
    expect(ops.length).toBeGreaterThan(open.length);
    expect(doc.paths['/admin/stats'].get.security).toEqual([{ bearer: [] }, { cookie: [] }]);
    expect(doc.paths['/articles'].get.security).toEqual([{ bearer: [] }, { apiKey: [] }, { cookie: [] }]);
    expect(doc.paths['/articles'].post.responses['403'].description).toContain('csrf_failed');
  });
});
