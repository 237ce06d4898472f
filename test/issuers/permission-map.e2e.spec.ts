// The typed permission catalog against what a trusted issuer can grant (issue 26 item 3). `claims.permissionMap`
// turns a provider's roles, groups or scopes into the app's permissions (a word the map does not name grants
// nothing), over real HTTP on Express and Fastify with Keycloak-shaped tokens from a local JWKS server; and since a
// map (or a preset that grants none) says what an issuer can grant, `assertPermissionsInCatalog` checks at boot that
// the map grants only catalog permissions and, where it can know, that some source can grant what each route needs.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Delete, Get, Post, type INestApplication, type Type } from '@nestjs/common';
import request from 'supertest';
import { assertPermissionsInCatalog, AuthConfigError, AuthModule, definePermissions } from '../../src/index.js';
import { ADAPTERS, bootApp, initError, SECRET } from '../support/app.js';
import { OpenController } from '../support/controllers.js';
import { JwksServer } from './support/jwks-server.js';

const perms = definePermissions(['orders:read', 'orders:write', 'orders:delete'] as const);

@Controller('orders')
class OrdersController {
  @perms.PermissionRequired('orders:read')
  @Get()
  list() {
    return { ok: true };
  }

  @perms.PermissionRequired('orders:write')
  @Post()
  create() {
    return { ok: true };
  }

  @perms.PermissionRequired(['orders:write', 'orders:delete'], { mode: 'any' })
  @Post('archive')
  archive() {
    return { ok: true };
  }
}

@Controller('orders-admin')
class OrdersAdminController {
  @perms.PermissionRequired('orders:delete')
  @Delete(':id')
  remove() {
    return { ok: true };
  }
}

@Controller('orders-audit')
class OrdersAuditController {
  @perms.PermissionRequired('orders:read', 'orders:delete')
  @Get()
  audit() {
    return { ok: true };
  }
}

const CONTROLLERS = [OpenController, OrdersController];
const ROLE_MAP = { 'orders-admin': ['orders:read', 'orders:write'], 'orders-viewer': 'orders:read' };

describe.each(ADAPTERS)('claims.permissionMap on %s', (adapter) => {
  const provider = new JwksServer('/realms/acme');
  let app: INestApplication;

  beforeAll(async () => {
    await provider.start();
    provider.addKey('RS256');
    app = await bootApp(
      { trustedIssuers: [{ issuer: provider.issuer, audience: 'orders-api', preset: 'keycloak', claims: { permissionMap: ROLE_MAP } }] },
      { adapter, controllers: CONTROLLERS },
    );
  });
  afterAll(async () => {
    await app.close();
    await provider.close();
  });

  const tokenWith = (roles: string[]) =>
    provider.sign(provider.claims('orders-api', { scope: 'openid profile', realm_access: { roles } }), undefined, { typ: 'JWT' });

  test("the provider's roles become the app's permissions; a word the map does not name grants nothing", async () => {
    // `constructor` and `__proto__` are only ever words: never members of the map inherited from Object.
    const viewer = await tokenWith(['orders-viewer', 'offline_access', 'constructor', '__proto__', 'orders:delete']);
    const context = await request(app.getHttpServer()).get('/context').set('Authorization', `Bearer ${viewer}`);
    expect(context.status).toBe(200);
    expect(context.body.auth.permissions).toEqual(['orders:read']);
    await request(app.getHttpServer()).get('/orders').set('Authorization', `Bearer ${viewer}`).expect(200);
    await request(app.getHttpServer()).post('/orders').set('Authorization', `Bearer ${viewer}`).expect(403);

    const admin = await tokenWith(['orders-admin', 'orders-viewer']);
    const adminContext = await request(app.getHttpServer()).get('/context').set('Authorization', `Bearer ${admin}`);
    expect(adminContext.body.auth.permissions).toEqual(['orders:read', 'orders:write']);
    await request(app.getHttpServer()).post('/orders').set('Authorization', `Bearer ${admin}`).expect(201);
    await request(app.getHttpServer()).post('/orders/archive').set('Authorization', `Bearer ${admin}`).expect(201);
  });
});

describe('assertPermissionsInCatalog with trusted issuers', () => {
  const provider = new JwksServer('/realms/acme');
  const other = new JwksServer('/realms/partners');
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    await provider.start();
    provider.addKey('RS256');
    await other.start();
    other.addKey('RS256');
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await provider.close();
    await other.close();
  });

  const boot = async (options: Record<string, unknown>, controllers: Type[]) => {
    const app = await bootApp(options, { controllers });
    apps.push(app);
    return app;
  };
  const keycloak = (claims: Record<string, unknown> = { permissionMap: ROLE_MAP }) => ({
    issuer: provider.issuer,
    audience: 'orders-api',
    preset: 'keycloak',
    claims,
  });
  const check = (app: INestApplication) => () => assertPermissionsInCatalog(app, perms.permissions);

  test('trusted issuers only, every one saying what it grants: a route that none can grant fails the check, naming it and what each grants', async () => {
    const app = await boot({ trustedIssuers: [keycloak()] }, [OrdersController, OrdersAdminController]);
    expect(check(app)).toThrow(AuthConfigError);
    expect(check(app)).toThrow(/OrdersAdminController\.remove requires "orders:delete"/);
    expect(check(app)).toThrow(/trustedIssuers\[0\] grants orders:read, orders:write/);
    // `mode: 'any'` (archive: write or delete) is grantable through write: not named.
    expect(check(app)).not.toThrow(/archive/);
  });

  test("all of a route's permissions must come from one source: a principal has one issuer", async () => {
    const partners = {
      issuer: other.issuer,
      audience: 'orders-api',
      claims: { permissions: 'groups', permissionMap: { auditors: 'orders:delete' } },
    };
    const app = await boot({ trustedIssuers: [keycloak(), partners] }, [OrdersController, OrdersAuditController]);
    expect(check(app)).toThrow(/OrdersAuditController\.audit requires all of "orders:read", "orders:delete"/);
    const both = await boot(
      {
        trustedIssuers: [keycloak(), { ...partners, claims: { ...partners.claims, permissionMap: { auditors: ['orders:read', 'orders:delete'] } } }],
      },
      [OrdersController, OrdersAuditController, OrdersAdminController],
    );
    expect(check(both)).not.toThrow();
  });

  test('a preset whose tokens carry no permissions (google) grants none: its routes with permissions fail the check', async () => {
    const google = { issuer: other.issuer, audience: 'orders-api', preset: 'google' };
    const app = await boot({ trustedIssuers: [google] }, [OrdersController]);
    expect(check(app)).toThrow(/OrdersController\.list requires "orders:read".*trustedIssuers\[0\] grants none/);
    // A map over words the preset never yields grants nothing either.
    const mapped = await boot({ trustedIssuers: [{ ...google, claims: { permissionMap: { staff: 'orders:read' } } }] }, [OrdersController]);
    expect(check(mapped)).toThrow(/trustedIssuers\[0\] grants none/);
  });

  test("where it cannot know, it does not guess: an issuer whose claims decide, the app's own tokens, API keys", async () => {
    const open = await boot({ trustedIssuers: [keycloak(), { issuer: other.issuer, audience: 'orders-api' }] }, [OrdersAdminController]);
    expect(check(open)).not.toThrow();
    const own = await boot({ jwt: { secret: SECRET }, trustedIssuers: [keycloak()] }, [OrdersAdminController]);
    expect(check(own)).not.toThrow();
    const keys = await boot({ trustedIssuers: [keycloak()], apiKeys: { enabled: true } }, [OrdersAdminController]);
    expect(check(keys)).not.toThrow();
  });

  test('a map that grants a permission outside the catalog fails the check, naming the option', async () => {
    const app = await boot({ trustedIssuers: [keycloak({ permissionMap: { 'orders-admin': ['orders:read', 'ordres:write'] } })] }, [
      OrdersController,
    ]);
    expect(check(app)).toThrow(/trustedIssuers\[0\]\.claims\.permissionMap.*"ordres:write", not in the permission catalog/);
  });

  test.each<[string, unknown, RegExp]>([
    ['an empty map', {}, /trustedIssuers\[0\]\.claims\.permissionMap": must be an object mapping/],
    ['a list', ['orders:read'], /trustedIssuers\[0\]\.claims\.permissionMap": must be an object mapping/],
    ['a number for a word', { 'orders-admin': 3 }, /trustedIssuers\[0\]\.claims\.permissionMap\.orders-admin": must be a permission/],
    [
      'an empty permission',
      { 'orders-admin': ['orders:read', ' '] },
      /trustedIssuers\[0\]\.claims\.permissionMap\.orders-admin": must be a permission/,
    ],
  ])('a malformed permissionMap fails the boot: %s', async (_name, permissionMap, message) => {
    const error = await initError([AuthModule.forRoot({ trustedIssuers: [keycloak({ permissionMap })] } as never)]);
    expect(error?.message).toMatch(message);
  });
});
