/**
 * The CSRF Origin layer compares scheme, host and port (#21 item 10): an
 * `http://` page of the app's own host is not the app when the app is served
 * over `https://` (known from a trusted proxy's `X-Forwarded-Proto`, or from a
 * trusted origin of the same host under https). Refused by the Origin layer
 * (audit reason `csrf_failed:foreign_origin`) even with the right CSRF token.
 * Both adapters.
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AuthModule, type AuditEvent, type AuthModuleOptions } from '../../src/index.js';
import { ADAPTERS, SECRET, type Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { cookieNamed } from '../support/cookies.js';
import { MemoryUsers, PASSWORDS, withUsersHasher } from '../support/users.js';

const HOST = 'app.test:8443';
const HTTPS_OWN = `https://${HOST}`;
const HTTP_SAME_HOST = `http://${HOST}`;

async function boot(adapter: Adapter, trustProxy: boolean, cookies: Partial<NonNullable<AuthModuleOptions['cookies']>>, events: AuditEvent[]) {
  const moduleRef = await Test.createTestingModule({
    controllers: ALL_CONTROLLERS,
    imports: [
      AuthModule.forRoot(
        withUsersHasher({
          jwt: { secret: SECRET },
          users: await MemoryUsers.create(),
          audit: { emit: (e) => void events.push(e) },
          cookies: { enabled: true, ...cookies },
        }),
      ),
    ],
  }).compile();
  let app: INestApplication;
  if (adapter === 'fastify') {
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy }));
  } else {
    app = moduleRef.createNestApplication<NestExpressApplication>();
    if (trustProxy) (app as NestExpressApplication).set('trust proxy', true);
  }
  app.useLogger(false);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(ADAPTERS)('CSRF Origin: scheme, host and port (%s)', (adapter) => {
  const cases: Array<{
    name: string;
    trustProxy: boolean;
    forwarded: Record<string, string>;
    cookies: Partial<NonNullable<AuthModuleOptions['cookies']>>;
  }> = [
    { name: 'behind a trusted proxy that says https', trustProxy: true, forwarded: { 'X-Forwarded-Proto': 'https' }, cookies: {} },
    { name: 'with its https origin configured', trustProxy: false, forwarded: {}, cookies: { csrf: { trustedOrigins: [HTTPS_OWN] } } },
  ];

  describe.each(cases)('an https app $name', ({ trustProxy, forwarded, cookies }) => {
    let app: INestApplication;
    const events: AuditEvent[] = [];
    const post = (path: string, origin: string) => request(app.getHttpServer()).post(path).set('Host', HOST).set(forwarded).set('Origin', origin);
    const login = async () => {
      const res = await post('/auth/login', HTTPS_OWN).send({ username: 'bob', password: PASSWORDS.bob });
      expect(res.status).toBe(200);
      return { access: cookieNamed(res, '__Host-access')!.value, csrf: cookieNamed(res, '__Host-csrf')!.value };
    };

    beforeAll(async () => {
      app = await boot(adapter, trustProxy, cookies, events);
    });
    afterAll(() => app.close());

    test('an http:// page of the same host is refused by the Origin layer, even with the right token', async () => {
      const s = await login();
      events.length = 0;
      const res = await post('/articles', HTTP_SAME_HOST)
        .set('Cookie', `__Host-access=${s.access}; __Host-csrf=${s.csrf}`)
        .set('x-csrf-token', s.csrf)
        .send({});
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('csrf_failed');
      expect(events.find((e) => e.type === 'access.denied')?.reason).toBe('csrf_failed:foreign_origin');
    });

    test('a login from the http:// page is refused too (login CSRF)', async () => {
      const res = await post('/auth/login', HTTP_SAME_HOST).send({ username: 'alice', password: PASSWORDS.alice });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('csrf_failed');
    });

    test('the https:// page of the app passes; another port does not', async () => {
      const s = await login();
      const ok = await post('/articles', HTTPS_OWN)
        .set('Cookie', `__Host-access=${s.access}; __Host-csrf=${s.csrf}`)
        .set('x-csrf-token', s.csrf)
        .send({});
      expect(ok.status).toBe(201);
      const otherPort = await post('/articles', 'https://app.test:9443')
        .set('Cookie', `__Host-access=${s.access}; __Host-csrf=${s.csrf}`)
        .set('x-csrf-token', s.csrf)
        .send({});
      expect(otherPort.status).toBe(403);
    });
  });

  describe('a plain-HTTP app (no proxy said https, no https origin configured)', () => {
    let app: INestApplication;
    const events: AuditEvent[] = [];
    beforeAll(async () => {
      app = await boot(adapter, false, {}, events);
    });
    afterAll(() => app.close());

    test('its own http:// origin passes, and an https:// page of its host (TLS ended by a proxy it does not trust) too', async () => {
      for (const origin of [HTTP_SAME_HOST, HTTPS_OWN]) {
        const res = await request(app.getHttpServer())
          .post('/auth/login')
          .set('Host', HOST)
          .set('Origin', origin)
          .send({ username: 'alice', password: PASSWORDS.alice });
        expect(res.status).toBe(200);
      }
    });

    test('an X-Forwarded-Proto from a proxy it does not trust changes nothing', async () => {
      const res = await request(app.getHttpServer())
        .post('/auth/login')
        .set('Host', HOST)
        .set('X-Forwarded-Proto', 'https')
        .set('Origin', HTTP_SAME_HOST)
        .send({ username: 'alice', password: PASSWORDS.alice });
      expect(res.status).toBe(200);
    });
  });
});
