import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Get, Post } from '@nestjs/common';
import { collectRoutes, formatRouteTable, PermissionRequired, printRouteTable, Public, StaffOnly, SuperuserOnly } from '../../src/index.js';
import { createTestApp, type TestAuthApp } from '../../src/testing/index.js';

@Controller('articles')
@PermissionRequired('articles:read')
class Articles {
  @Get()
  list() {}

  @Post()
  @PermissionRequired(['articles:write', 'articles:publish'], { mode: 'any' })
  create() {}

  @Public()
  @Get('teaser')
  teaser() {}
}

@Controller()
class Misc {
  @Get('me')
  me() {}

  @StaffOnly()
  @PermissionRequired('reports:read')
  @Get(['report', 'reports'])
  report() {}

  @SuperuserOnly()
  @Get('admin')
  admin() {}
}

describe('route policy table', () => {
  let t: TestAuthApp;
  beforeAll(async () => {
    t = await createTestApp({ controllers: [Articles, Misc], configure: (app) => void app.setGlobalPrefix('api') });
  });
  afterAll(() => t.close());

  test('collectRoutes: every route, with the global prefix and the computed policy', () => {
    const routes = collectRoutes(t.app).map(({ handlerRef: _h, classRef: _c, policy: _p, ...row }) => row);
    expect(routes).toEqual(
      expect.arrayContaining([
        {
          controller: 'Articles',
          handler: 'list',
          method: 'GET',
          path: '/api/articles',
          isPublic: false,
          permissions: ['articles:read'],
          permissionMode: 'all',
          staff: false,
          superuser: false,
        },
        {
          controller: 'Articles',
          handler: 'create',
          method: 'POST',
          path: '/api/articles',
          isPublic: false,
          permissions: ['articles:write', 'articles:publish'],
          permissionMode: 'any',
          staff: false,
          superuser: false,
        },
        expect.objectContaining({ handler: 'teaser', isPublic: true }),
        expect.objectContaining({ handler: 'report', path: '/api/reports', staff: true, permissions: ['reports:read'] }),
      ]),
    );
    expect(routes.filter((r) => r.handler === 'report')).toHaveLength(2);
  });

  test('the table, as printed', () => {
    const lines: string[] = [];
    const table = printRouteTable(t.app, { log: (m: string) => void lines.push(m) });
    expect(lines).toEqual([`route policy\n${table}`]);
    expect(table.split('\n')).toEqual([
      'METHOD  PATH                  ACCESS                                 HANDLER',
      'GET     /api/admin            superuser                              Misc.admin',
      'GET     /api/articles         articles:read                          Articles.list',
      'POST    /api/articles         any(articles:write, articles:publish)  Articles.create',
      'GET     /api/articles/teaser  public                                 Articles.teaser',
      'GET     /api/me               authenticated                          Misc.me',
      'GET     /api/report           staff + reports:read                   Misc.report',
      'GET     /api/reports          staff + reports:read                   Misc.report',
    ]);
    expect(formatRouteTable([])).toBe('METHOD  PATH  ACCESS  HANDLER');
  });
});
