// A provider's tokens on microservices: TCP always, NATS when AUTH_TEST_NATS_URL is set (its headers and the payload
// fallback), with the same RpcException codes as the module's own tokens.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, type INestApplication } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, NatsRecordBuilder, Transport, type ClientProxy } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { CurrentUser, PermissionRequired, type AuthPrincipal } from '../../src/index.js';
import { bootTransportApp } from '../support/transports.js';
import { JwksServer } from './support/jwks-server.js';

const NATS_URL = process.env.AUTH_TEST_NATS_URL;
// Subjects of this run only: the NATS server is shared with other suites.
const SUBJECT = `issuers.${process.pid}.${Date.now()}`;

@Controller()
class ProviderRpcHandlers {
  @MessagePattern(`${SUBJECT}.whoami`)
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { id: user.id, username: user.username, permissions: user.permissions };
  }

  @PermissionRequired('articles:write')
  @MessagePattern(`${SUBJECT}.write`)
  write() {
    return { written: true };
  }
}

if (!NATS_URL) console.log('NATS part of test/issuers/rpc.e2e.spec.ts skipped: AUTH_TEST_NATS_URL is not set');

describe('provider tokens on microservices', () => {
  const provider = new JwksServer('/realms/acme');
  const broken = new JwksServer('/broken');
  let app: INestApplication;
  let tcp: ClientProxy;
  let nats: ClientProxy | undefined;

  beforeAll(async () => {
    await provider.start();
    await broken.start();
    provider.addKey('RS256');
    broken.addKey('RS256');
    broken.fault = 'status500';
    let tcpPort = 0;
    ({ app } = await bootTransportApp(
      {
        trustedIssuers: [
          { issuer: provider.issuer, audience: 'api', preset: 'keycloak' },
          { issuer: broken.issuer, audience: 'api' },
        ],
      },
      {
        controllers: [ProviderRpcHandlers],
        configure: async (a) => {
          const net = await import('node:net');
          // A free port for the TCP microservice (it cannot listen on 0 and tell).
          tcpPort = await new Promise<number>((resolve) => {
            const probe = net.createServer().listen(0, '127.0.0.1', () => {
              const port = (probe.address() as { port: number }).port;
              probe.close(() => resolve(port));
            });
          });
          a.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } }, { inheritAppConfig: true });
          if (NATS_URL) a.connectMicroservice({ transport: Transport.NATS, options: { servers: [NATS_URL] } }, { inheritAppConfig: true });
        },
      },
    ));
    await app.startAllMicroservices();
    tcp = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    await tcp.connect();
    if (NATS_URL) {
      nats = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [NATS_URL] } });
      await nats.connect();
    }
  });
  afterAll(async () => {
    await Promise.all([tcp?.close(), nats?.close()]);
    await app?.close();
    await provider.close();
    await broken.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const token = (roles: string[] = [], extra: Record<string, unknown> = {}) =>
    provider.sign(provider.claims('api', { preferred_username: 'ada', realm_access: { roles }, ...extra }, now()), undefined, { typ: 'JWT' });
  const viaPayload = (client: ClientProxy, pattern: string, t: string) =>
    firstValueFrom(client.send(`${SUBJECT}.${pattern}`, { auth: { token: t } }));

  test('TCP: the principal and its permissions; the codes', async () => {
    expect(await viaPayload(tcp, 'whoami', await token(['articles:write']))).toEqual({
      id: 'user-1',
      username: 'ada',
      permissions: ['articles:write'],
    });
    expect(await viaPayload(tcp, 'write', await token(['articles:write']))).toEqual({ written: true });
    await expect(viaPayload(tcp, 'write', await token(['articles:read']))).rejects.toMatchObject({ code: 'permission_denied' });
    await expect(viaPayload(tcp, 'whoami', await token([], { iat: now() - 100, exp: now() - 1 }))).rejects.toMatchObject({ code: 'token_expired' });
    await expect(viaPayload(tcp, 'whoami', await provider.sign(provider.claims('other')))).rejects.toMatchObject({ code: 'token_invalid' });
    await expect(viaPayload(tcp, 'whoami', await broken.sign(broken.claims('api')))).rejects.toMatchObject({ code: 'auth_unavailable' });
  });

  // Skipped only without a NATS server (AUTH_TEST_NATS_URL; .ci/run sets it).
  (NATS_URL ? test : test.skip)('NATS: the Authorization header and the payload fallback', async () => {
    const t = await token(['articles:write']);
    const h = natsHeaders();
    h.set('Authorization', `Bearer ${t}`);
    expect(await firstValueFrom(nats!.send(`${SUBJECT}.whoami`, new NatsRecordBuilder({}).setHeaders(h).build()))).toMatchObject({
      id: 'user-1',
    });
    expect(await viaPayload(nats!, 'write', t)).toEqual({ written: true });
    await expect(viaPayload(nats!, 'whoami', await broken.sign(broken.claims('api')))).rejects.toMatchObject({ code: 'auth_unavailable' });
  });
});
