// Golden tokens shaped as Keycloak, Auth0, Cognito, Entra ID, Zitadel and Google issue them (header and claim
// layouts from each provider's documentation, listed in the README's presets table), signed by keys a local JWKS
// server publishes the way each provider does; each issuer configured with its preset only, as the README's guide.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { resolveTrustedIssuers } from '../../src/issuers/trusted-issuer.options.js';
import type { TrustedIssuerPreset } from '../../src/issuers/presets.js';
import { ADAPTERS, bootApp } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { JwksServer } from './support/jwks-server.js';

interface Golden {
  preset: TrustedIssuerPreset;
  /** The issuer's path on the local server (Keycloak's realm, Auth0's terminating slash, Cognito's pool, Entra's tenant). */
  path: string;
  audience: string;
  alg: 'RS256' | 'ES256';
  /** JWK members the provider leaves out of its key set. */
  omit?: string[];
  header: (kid: string) => Record<string, unknown>;
  claims: (iss: string, now: number) => Record<string, unknown>;
  /** What the mapping must make of it. */
  expected: { userId: string; username?: string; permissions: string[] };
  /** The same provider's token that is not an access token for this API, when the preset can tell. */
  notAccess?: (iss: string, now: number) => Record<string, unknown>;
}

const GOLDEN: Golden[] = [
  {
    // Keycloak 26 access token (server admin guide, "Audience support", "Realm and client roles"): header typ JWT.
    preset: 'keycloak',
    path: '/realms/acme',
    audience: 'orders-api',
    alg: 'RS256',
    header: (kid) => ({ alg: 'RS256', typ: 'JWT', kid }),
    claims: (iss, now) => ({
      exp: now + 300,
      iat: now,
      auth_time: now - 10,
      jti: 'onrtac:2b8f9d1e-4a4c-4f1e-9c3e-0d3c2e1a9f00',
      iss,
      aud: ['orders-api', 'account'],
      sub: 'f2c1a4b0-7d0e-4a53-9a4e-2b5f0c6d7e81',
      typ: 'Bearer',
      azp: 'web-app',
      sid: '5d4e3f2a-1b0c-4d9e-8f7a-6b5c4d3e2f1a',
      acr: '1',
      'allowed-origins': ['https://app.example.com'],
      realm_access: { roles: ['offline_access', 'uma_authorization', 'default-roles-acme'] },
      resource_access: { 'orders-api': { roles: ['articles:read'] }, account: { roles: ['manage-account', 'view-profile'] } },
      scope: 'openid profile email',
      email_verified: true,
      name: 'Ada Lovelace',
      preferred_username: 'ada',
      email: 'ada@example.com',
    }),
    expected: {
      userId: 'f2c1a4b0-7d0e-4a53-9a4e-2b5f0c6d7e81',
      username: 'ada',
      // The account client's roles are another client's: not this API's.
      permissions: ['openid', 'profile', 'email', 'offline_access', 'uma_authorization', 'default-roles-acme', 'articles:read'],
    },
  },
  {
    // Auth0 access token, "Access Token Profiles" (auth0 profile) with RBAC "Add Permissions in the Access Token".
    preset: 'auth0',
    path: '/',
    audience: 'https://api.example.com',
    alg: 'RS256',
    header: (kid) => ({ alg: 'RS256', typ: 'JWT', kid }),
    claims: (iss, now) => ({
      iss,
      sub: 'auth0|64f1c2d3e4b5a69788990011',
      aud: ['https://api.example.com', `${iss}userinfo`],
      iat: now,
      exp: now + 86_400 - 1,
      azp: 'Zx8yWv7uTs6rQp5oNm4lKj3iHg2fEd1c',
      scope: 'openid profile email',
      permissions: ['articles:read', 'articles:write'],
    }),
    expected: {
      userId: 'auth0|64f1c2d3e4b5a69788990011',
      permissions: ['articles:read', 'articles:write', 'openid', 'profile', 'email'],
    },
  },
  {
    // Amazon Cognito user pool access token ("Understanding the access token"): no typ, no aud, client_id, token_use.
    preset: 'cognito',
    path: '/us-east-1_Example1',
    audience: '1example23456789abcdefghij',
    alg: 'RS256',
    header: (kid) => ({ kid, alg: 'RS256' }),
    claims: (iss, now) => ({
      sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      'cognito:groups': ['articles:read', 'editors'],
      iss,
      version: 2,
      client_id: '1example23456789abcdefghij',
      origin_jti: 'aaaaaaaa-0000-1111-2222-333333333333',
      event_id: 'bbbbbbbb-4444-5555-6666-777777777777',
      token_use: 'access',
      scope: 'aws.cognito.signin.user.admin openid profile',
      auth_time: now - 5,
      exp: now + 3600,
      iat: now,
      jti: 'cccccccc-8888-9999-aaaa-bbbbbbbbbbbb',
      username: 'ada',
    }),
    expected: {
      userId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      username: 'ada',
      permissions: ['aws.cognito.signin.user.admin', 'openid', 'profile', 'articles:read', 'editors'],
    },
    // Cognito's ID token: aud is the client id and token_use "id": not an access token.
    notAccess: (iss, now) => ({
      sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      aud: '1example23456789abcdefghij',
      iss,
      token_use: 'id',
      auth_time: now,
      exp: now + 3600,
      iat: now,
      'cognito:username': 'ada',
      email: 'ada@example.com',
    }),
  },
  {
    // Microsoft Entra ID v2.0 access token ("Access token claims reference"): JWKs without alg, x5t in the header.
    preset: 'entra',
    path: '/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0',
    audience: 'api://orders-api',
    alg: 'RS256',
    omit: ['alg'],
    header: (kid) => ({ typ: 'JWT', alg: 'RS256', kid, x5t: kid }),
    claims: (iss, now) => ({
      aud: 'api://orders-api',
      iss,
      iat: now,
      nbf: now,
      exp: now + 4000,
      aio: 'AWQAm/8TAAAA',
      azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
      azpacr: '0',
      name: 'Ada Lovelace',
      oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
      preferred_username: 'ada@contoso.onmicrosoft.com',
      rh: '0.AXEAbc.',
      roles: ['articles:read'],
      scp: 'Orders.Read',
      sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
      tid: '9188040d-6c67-4c5b-b112-36a304b66dad',
      uti: 'fqiBqXLPj0eQa82S-IYFAA',
      ver: '2.0',
    }),
    expected: {
      userId: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
      username: 'ada@contoso.onmicrosoft.com',
      permissions: ['articles:read', 'Orders.Read'],
    },
  },
  {
    // ZITADEL JWT access token ("Claims in ZITADEL", project roles claim: role -> { orgId: orgDomain }).
    preset: 'zitadel',
    path: '',
    audience: '170086824411201793',
    alg: 'RS256',
    header: (kid) => ({ alg: 'RS256', kid, typ: 'JWT' }),
    claims: (iss, now) => ({
      iss,
      sub: '170086363054473473',
      aud: ['170086824411201793', '170086774599581953@orders'],
      exp: now + 43_200,
      iat: now,
      nbf: now,
      jti: '170086936726044929',
      client_id: '170086774599581953@orders',
      scope: 'openid profile urn:zitadel:iam:org:project:id:zitadel:aud',
      'urn:zitadel:iam:org:project:roles': { 'articles:read': { '170086363054407937': 'acme.zitadel.cloud' } },
      'urn:zitadel:iam:user:resourceowner:id': '170086363054407937',
      preferred_username: 'ada@acme.zitadel.cloud',
    }),
    expected: {
      userId: '170086363054473473',
      username: 'ada@acme.zitadel.cloud',
      permissions: ['articles:read', 'openid', 'profile', 'urn:zitadel:iam:org:project:id:zitadel:aud'],
    },
  },
  {
    // Google ID token, as service-to-service identity tokens carry it ("Authenticating service-to-service", OpenID Connect).
    preset: 'google',
    path: '',
    audience: 'https://orders-api-abc123-uc.a.run.app',
    alg: 'RS256',
    header: (kid) => ({ alg: 'RS256', kid, typ: 'JWT' }),
    claims: (iss, now) => ({
      aud: 'https://orders-api-abc123-uc.a.run.app',
      azp: '113774264463038321964',
      email: 'reporting@acme-prod.iam.gserviceaccount.com',
      email_verified: true,
      exp: now + 3600,
      iat: now,
      iss,
      sub: '113774264463038321964',
    }),
    expected: { userId: '113774264463038321964', username: 'reporting@acme-prod.iam.gserviceaccount.com', permissions: [] },
  },
];

describe.each(ADAPTERS)('golden tokens of each provider, with its preset, on %s', (adapter) => {
  const servers = new Map<TrustedIssuerPreset, JwksServer>();
  let app: INestApplication;

  beforeAll(async () => {
    for (const golden of GOLDEN) {
      const server = await new JwksServer(golden.path).start();
      server.addKey(golden.alg, `${golden.preset}-key-1`);
      server.omit = golden.omit ?? [];
      servers.set(golden.preset, server);
    }
    app = await bootApp(
      { trustedIssuers: GOLDEN.map((g) => ({ issuer: servers.get(g.preset)!.issuer, audience: g.audience, preset: g.preset })) },
      { adapter, controllers: ALL_CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    for (const server of servers.values()) await server.close();
  });

  const get = (path: string, token: string) => request(app.getHttpServer()).get(path).set('Authorization', `Bearer ${token}`);
  const now = () => Math.floor(Date.now() / 1000);

  test.each(GOLDEN.map((g) => [g.preset, g] as const))('%s: the principal the preset maps', async (_name, golden) => {
    const server = servers.get(golden.preset)!;
    const key = server.served[0]!;
    const token = await server.sign(golden.claims(server.issuer, now()), key, { typ: undefined, ...golden.header(key.kid!) });
    const res = await get('/context', token);
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatchObject({ ...golden.expected, backend: 'jwt', issuer: server.issuer, isStaff: false, isSuperuser: false });
    expect(res.body.auth.username).toBe(golden.expected.username);
    expect(res.body.auth.sessionId).toBeUndefined();
    expect((await get('/articles', token)).status).toBe(golden.expected.permissions.includes('articles:read') ? 200 : 403);
  });

  test.each(GOLDEN.filter((g) => g.notAccess).map((g) => [g.preset, g] as const))("%s: the provider's ID token is refused", async (_name, golden) => {
    const server = servers.get(golden.preset)!;
    const key = server.served[0]!;
    const token = await server.sign(golden.notAccess!(server.issuer, now()), key, { typ: undefined, ...golden.header(key.kid!) });
    const res = await get('/private', token);
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 401, code: 'token_invalid' });
  });

  test("a token of one provider under another's issuer name is refused (each preset's issuer has its own keys)", async () => {
    const keycloak = servers.get('keycloak')!;
    const auth0 = servers.get('auth0')!;
    const token = await keycloak.sign(GOLDEN[1]!.claims(auth0.issuer, now()), keycloak.served[0]!);
    expect((await get('/private', token)).status).toBe(401);
  });
});

describe('presets set what each provider needs', () => {
  test("google's key set is on www.googleapis.com, so the preset names it (discovery would point off the issuer's host)", () => {
    const [google] = resolveTrustedIssuers([{ issuer: 'https://accounts.google.com', audience: 'x', preset: 'google' }], undefined);
    expect(google!.jwksUri).toBe('https://www.googleapis.com/oauth2/v3/certs');
  });

  test("an entry's own claims mapping wins over its preset's", () => {
    const [entry] = resolveTrustedIssuers(
      [{ issuer: 'https://idp.example.com', audience: 'api', preset: 'auth0', claims: { permissions: 'https://example\\.com/roles' } }],
      undefined,
    );
    expect(entry!.mapping.permissions({ permissions: ['a'], scope: 'b' })).toEqual([]);
  });

  test('claim paths: dotted, names that hold dots or colons, space-separated strings, object members, unions', () => {
    const [entry] = resolveTrustedIssuers(
      [
        {
          issuer: 'https://idp.example.com',
          audience: 'api',
          claims: { permissions: ['https://example.com/roles', 'resource_access.my.api.roles', 'scp', 'cognito:groups', 'org.roles'] },
        },
      ],
      undefined,
    );
    const claims = {
      'https://example.com/roles': ['r1'],
      resource_access: { 'my.api': { roles: ['r2', 'r1'] } },
      scp: 'a  b',
      'cognito:groups': ['g'],
      org: { roles: { admin: {}, viewer: {} } },
    };
    expect(entry!.mapping.permissions(claims)).toEqual(['r1', 'r2', 'a', 'b', 'g', 'admin', 'viewer']);
  });
});
