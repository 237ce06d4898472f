// A DPoP proof is accepted once across every instance of the app (RFC 9449 §11.1): two instances behind one public
// URL (a trusted proxy's X-Forwarded-Host, as a load balancer sends) share the replay store: the `auth_dpop_proofs`
// table of their TypeORM DataSource (SQLite file, PostgreSQL, MariaDB), or Redis. A proof sent to both, one after
// the other or at once, passes on exactly one; a replay store that cannot answer is 503, never an acceptance.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AddressInfo } from 'node:net';
import { AuthModule, type AuthModuleForRootOptions } from '../../src/index.js';
import type { Adapter } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource, uniqueTestName, type DbTarget } from '../support/databases.js';
import { describeWith, serviceUrl } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { eventually } from '../support/time.js';
import { DpopClient } from './support/dpop-client.js';
import { RESOURCE, TestOpenIdProvider } from './support/openid-provider.js';

const PUBLIC = 'https://api.example.test';
const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.test' };

/** An instance behind the load balancer: it trusts the loopback proxy, so its public URL is PUBLIC. */
async function bootInstance(adapter: Adapter, options: AuthModuleForRootOptions, imports: unknown[] = []): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [...(imports as never[]), AuthModule.forRoot(options)],
    controllers: ALL_CONTROLLERS,
  }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy: 'loopback' }))
      : moduleRef.createNestApplication<NestExpressApplication>();
  if (adapter === 'express') (app as NestExpressApplication).set('trust proxy', 'loopback');
  app.useLogger(false);
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  await app.listen(0, '127.0.0.1');
  return app;
}

const local = (app: INestApplication) => `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

async function status(app: INestApplication, token: string, proof: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${local(app)}/private`, { headers: { ...FORWARDED, authorization: `DPoP ${token}`, dpop: proof } });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code };
}

/** The cross-instance checks, for one pair of instances sharing a store. */
function replayChecks(pair: () => { a: INestApplication; b: INestApplication; token: string; client: DpopClient }) {
  test('a proof used on instance A is refused on instance B, and on A again', async () => {
    const { a, b, token, client } = pair();
    const proof = client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token });
    expect((await status(a, token, proof)).status).toBe(200);
    expect(await status(b, token, proof)).toEqual({ status: 401, code: 'token_invalid' });
    expect(await status(a, token, proof)).toEqual({ status: 401, code: 'token_invalid' });
    // A fresh proof passes on B.
    expect((await status(b, token, client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token }))).status).toBe(200);
  });

  test('20 proofs, each sent to both instances at once: each passes exactly once', async () => {
    const { a, b, token, client } = pair();
    const proofs = Array.from({ length: 20 }, () => client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token }));
    const answers = await Promise.all(proofs.map((p) => Promise.all([status(a, token, p), status(b, token, p), status(a, token, p)])));
    for (const trio of answers) {
      expect(trio.filter((r) => r.status === 200)).toHaveLength(1);
      expect(trio.filter((r) => r.status === 401 && r.code === 'token_invalid')).toHaveLength(2);
    }
  });
}

describe.each(enabledDatabases())('DPoP replay across two instances, TypeORM on $name', (target: DbTarget) => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('ES256');
  let a: INestApplication;
  let b: INestApplication;
  let token: string;

  beforeAll(async () => {
    await target.reset();
    await (await migratedDataSource(target)).destroy();
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    const options: AuthModuleForRootOptions = {
      store: 'typeorm',
      trustedIssuers: [{ issuer: op.issuer, audience: RESOURCE, dpop: 'required' }],
    };
    a = await bootInstance('express', options, [TypeOrmModule.forRoot(target.options())]);
    b = await bootInstance('fastify', options, [TypeOrmModule.forRoot(target.options())]);
    token = await op.accessToken('articles:read', { dpopProof: client.forTokenEndpoint() });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await op.close();
  });

  replayChecks(() => ({ a, b, token, client }));
});

describeWith('DPoP replay across two instances in Redis', 'redis')('DPoP replay across two instances, Redis', () => {
  const op = new TestOpenIdProvider();
  const client = new DpopClient('ES256');
  const proxy = new TcpProxy(Number(new URL(serviceUrl('redis') ?? 'redis://127.0.0.1:6379').port || 6379));
  let a: INestApplication;
  let b: INestApplication;
  let token: string;

  beforeAll(async () => {
    await proxy.start();
    await op.start([TestOpenIdProvider.newKey('ES256', 'k1')]);
    const options: AuthModuleForRootOptions = {
      revocation: { storeTimeoutMs: 500 },
      trustedIssuers: [
        {
          issuer: op.issuer,
          audience: RESOURCE,
          dpop: 'required',
          dpopOptions: { redis: proxy.url(serviceUrl('redis')!), redisKeyPrefix: `${uniqueTestName('dpop')}:` },
        },
      ],
    };
    a = await bootInstance('express', options);
    b = await bootInstance('fastify', options);
    token = await op.accessToken('articles:read', { dpopProof: client.forTokenEndpoint() });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await op.close();
    await proxy.stop();
  });

  replayChecks(() => ({ a, b, token, client }));

  test('Redis refusing or hanging: 503 auth_unavailable, never accepted; back, fresh proofs pass and the held one never does', async () => {
    const refused = client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token });
    proxy.refuse(true);
    proxy.reset();
    expect(await status(a, token, refused)).toEqual({ status: 503, code: 'auth_unavailable' });
    proxy.forward();
    // ioredis reconnects on its own: fresh proofs until it answers (bounded).
    await eventually(
      async () => (await status(a, token, client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token }))).status === 200,
      'Redis back',
    );
    expect((await status(b, token, refused)).status).toBe(200);

    // A hang: the claim outlives storeTimeoutMs (500 ms) and is answered 503; Redis gets it once the link is back.
    const held = client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token });
    proxy.blackhole();
    expect(await status(a, token, held)).toEqual({ status: 503, code: 'auth_unavailable' });
    proxy.forward();
    await eventually(
      async () => (await status(b, token, client.proof({ htm: 'GET', htu: `${PUBLIC}/private`, token }))).status === 200,
      'Redis back',
    );
    expect(await status(b, token, held)).toEqual({ status: 401, code: 'token_invalid' });
  });
});
