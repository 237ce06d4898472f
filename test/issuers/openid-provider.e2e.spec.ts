// A real OpenID Provider (panva's oidc-provider) on loopback issues JWT access tokens (RFC 9068) for a resource
// indicator; an app configured as the README's guide says verifies them on Express and Fastify, through discovery,
// and follows the provider's key rotation: new keys are found, removed ones refused.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { TestClock } from '../../src/testing/index.js';
import { ADAPTERS, bootApp } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { OP_CLIENT_ID, RESOURCE, TestOpenIdProvider } from './support/openid-provider.js';

describe.each(ADAPTERS)('tokens of a real OpenID Provider on %s', (adapter) => {
  const op = new TestOpenIdProvider();
  const clock = new TestClock();
  const first = TestOpenIdProvider.newKey('ES256', 'first');
  let app: INestApplication;

  beforeAll(async () => {
    await op.start([first]);
    app = await bootApp(
      {
        clock,
        trustedIssuers: [{ issuer: op.issuer, audience: RESOURCE, tokenType: 'at+jwt', claims: { permissions: 'scope' } }],
      },
      { adapter, controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    await op.close();
  });

  const call = async (path: string, token: string) => {
    const res = await request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);
    return { status: res.status, code: res.body.code as string | undefined, body: res.body };
  };

  test('an access token from the token endpoint authenticates, its scope becomes the permissions', async () => {
    const token = await op.accessToken('articles:read');
    const res = await call('/context', token);
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ userId: OP_CLIENT_ID, backend: 'jwt', issuer: op.issuer, permissions: ['articles:read'] });
    expect((await call('/articles', token)).status).toBe(200);
    const writer = await op.accessToken('articles:write');
    expect(await call('/articles', writer)).toMatchObject({ status: 403, code: 'permission_denied' });
  });

  test('rotation: tokens under the new key pass once the cool-down allows a read, the old key keeps working while listed', async () => {
    const before = await op.accessToken();
    const next = TestOpenIdProvider.newKey('RS256', 'second');
    await op.useKeys([next, first]);
    clock.advanceSeconds(11);
    const after = await op.accessToken();
    expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe('second');
    expect((await call('/private', after)).status).toBe(200);
    expect((await call('/private', before)).status).toBe(200);

    // The provider drops the first key: once the cached set is read again, tokens under it are refused.
    await op.useKeys([next]);
    clock.advanceSeconds(601);
    expect(await call('/private', before)).toMatchObject({ status: 401, code: 'token_invalid' });
    expect((await call('/private', after)).status).toBe(200);
  });
});
