import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiResponse, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { LoginDto, PermissionRequired, Public, RefreshTokenDto, StaffOnly, SuperuserOnly } from '../../src/index.js';
import { createAuthOpenApiDocument } from '../../src/swagger/index.js';
import { createTestApp, type TestAuthApp } from '../../src/testing/index.js';

@Controller('auth')
class AuthRoutes {
  @Public()
  @Post('login')
  @HttpCode(200)
  login(@Body() _body: LoginDto) {
    return {};
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  refresh(@Body() _body: RefreshTokenDto) {
    return {};
  }

  @Get('me')
  me() {
    return {};
  }
}

@Controller('articles')
@PermissionRequired('articles:read')
class Articles {
  @Get()
  list() {
    return [];
  }

  @Post()
  @PermissionRequired(['articles:write', 'articles:publish'], { mode: 'any' })
  create() {
    return {};
  }

  @Public()
  @Get('teaser')
  teaser() {
    return {};
  }

  /** The app documented its own 403: kept. */
  @Get('secret')
  @ApiResponse({ status: 403, description: 'app-specific' })
  secret() {
    return {};
  }
}

/** API.md "Edges": a class-level @Public() does not open a method that carries its own authorization decorator. */
@Public()
@Controller('open')
class OpenClass {
  @Get()
  index() {
    return {};
  }

  @PermissionRequired('reports:read')
  @Get('locked')
  locked() {
    return {};
  }
}

@Controller()
class Admin {
  @SuperuserOnly()
  @Get('admin/stats')
  stats() {
    return {};
  }

  @StaffOnly()
  @Get('staff/report')
  report() {
    return {};
  }

  @Public()
  @Get('health')
  health() {
    return { ok: true };
  }
}

type Operation = {
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description?: string; content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
  'x-auth'?: Record<string, unknown>;
};

function operation(doc: { paths: Record<string, Record<string, unknown>> }, method: string, path: string): Operation {
  const op = doc.paths[path]?.[method] as Operation | undefined;
  if (!op) throw new Error(`no operation ${method} ${path} in ${Object.keys(doc.paths).join(', ')}`);
  return op;
}

describe('OpenAPI document from the route policy', () => {
  let t: TestAuthApp;
  let doc: ReturnType<typeof createAuthOpenApiDocument>;

  beforeAll(async () => {
    t = await createTestApp({ auth: { apiKeys: { enabled: true } }, controllers: [AuthRoutes, Articles, Admin, OpenClass] });
    doc = createAuthOpenApiDocument(t.app, new DocumentBuilder().setTitle('test').build());
  });
  afterAll(() => t.close());

  test('bearer and API-key schemes, no cookie scheme without cookies', () => {
    expect(doc.components?.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
      apiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }),
    });
  });

  test('a private route requires the bearer token or an API key; 401/403/503 carry the error schema', () => {
    const op = operation(doc as never, 'get', '/articles');
    expect(op.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(op.responses).sort()).toEqual(['200', '401', '403', '503']);
    for (const status of ['401', '403', '503']) {
      expect(op.responses[status].content?.['application/json'].schema).toEqual({ $ref: '#/components/schemas/AuthErrorBody' });
    }
    expect(op.responses['401'].description).toContain('token_expired');
    expect(op.responses['401'].headers).toHaveProperty('WWW-Authenticate');
    expect(op.responses['403'].description).toContain('permission_denied');
    expect(op['x-auth']).toEqual({ access: 'articles:read', public: false, permissions: ['articles:read'], mode: 'all' });
  });

  test('a route that only needs authentication has no 403', () => {
    const op = operation(doc as never, 'get', '/auth/me');
    expect(op.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(op.responses).not.toHaveProperty('403');
    expect(op.responses).toHaveProperty('401');
  });

  test('staff- and superuser-only routes: bearer only (an API key never passes them)', () => {
    expect(operation(doc as never, 'get', '/admin/stats').security).toEqual([{ bearer: [] }]);
    expect(operation(doc as never, 'get', '/staff/report').security).toEqual([{ bearer: [] }]);
    expect(operation(doc as never, 'get', '/admin/stats')['x-auth']).toMatchObject({ access: 'superuser', superuser: true });
  });

  test('every @Public() operation has security: [] (also inside a controller that requires a permission)', () => {
    for (const [method, path] of [
      ['get', '/health'],
      ['get', '/articles/teaser'],
      ['post', '/auth/login'],
      ['post', '/auth/refresh'],
    ]) {
      expect(operation(doc as never, method, path).security).toEqual([]);
    }
    expect(operation(doc as never, 'get', '/health').responses).not.toHaveProperty('401');
  });

  test('a class-level @Public() does not open a method with @PermissionRequired: it keeps the lock', () => {
    expect(operation(doc as never, 'get', '/open').security).toEqual([]);
    expect(operation(doc as never, 'get', '/open/locked').security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(operation(doc as never, 'get', '/open/locked').responses).toHaveProperty('403');
  });

  test('method-level policy overrides the class: any-of permissions', () => {
    expect(operation(doc as never, 'post', '/articles')['x-auth']).toMatchObject({
      access: 'any(articles:write, articles:publish)',
      mode: 'any',
    });
  });

  test('the login route documents 401 invalid_credentials, 429 with Retry-After and 503; refresh its token codes', () => {
    const login = operation(doc as never, 'post', '/auth/login');
    expect(Object.keys(login.responses).sort()).toEqual(['200', '401', '429', '503']);
    expect(login.responses['401'].description).toContain('invalid_credentials');
    expect(login.responses['429'].headers).toHaveProperty('Retry-After');
    expect(login.responses['503'].description).toContain('auth_busy');
    const refresh = operation(doc as never, 'post', '/auth/refresh');
    expect(refresh.responses['401'].description).toContain('token_revoked');
  });

  test('a response the app documented itself is kept', () => {
    expect(operation(doc as never, 'get', '/articles/secret').responses['403'].description).toBe('app-specific');
  });

  test('the error body schema: statusCode, error, message, code as an enum of the codes', () => {
    const schema = doc.components?.schemas?.AuthErrorBody as { required: string[]; properties: { code: { enum: string[] } } };
    expect(schema.required).toEqual(['statusCode', 'error', 'message', 'code']);
    expect(schema.properties.code.enum).toEqual(
      expect.arrayContaining([
        'token_missing',
        'token_invalid',
        'token_expired',
        'token_revoked',
        'api_key_invalid',
        'permission_denied',
        'invalid_credentials',
        'auth_unavailable',
        'too_many_attempts',
        'auth_busy',
        'csrf_failed',
      ]),
    );
  });

  test('LoginDto and RefreshTokenDto are documented (the plugin metadata, no swagger import in the DTOs)', () => {
    const schemas = doc.components?.schemas as Record<string, { required?: string[]; properties: Record<string, Record<string, unknown>> }>;
    expect(schemas.LoginDto.required).toEqual(['username', 'password']);
    expect(schemas.LoginDto.properties.username).toMatchObject({ type: 'string', maxLength: 150 });
    expect(schemas.LoginDto.properties.password).toMatchObject({ type: 'string', format: 'password' });
    expect(schemas.RefreshTokenDto.properties.refreshToken).toMatchObject({ type: 'string' });
    const body = (operation(doc as never, 'post', '/auth/login') as unknown as { requestBody: { content: Record<string, { schema: unknown }> } })
      .requestBody;
    expect(body.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/LoginDto' });
  });

  test('the document the app serves is the same one (UI and JSON through SwaggerModule.setup)', async () => {
    const t2 = await createTestApp({
      controllers: [Admin],
      configure: (app) => SwaggerModule.setup('docs', app, () => createAuthOpenApiDocument(app, new DocumentBuilder().build())),
    });
    try {
      const json = await t2.request().get('/docs-json').expect(200);
      expect(json.body.paths['/health'].get.security).toEqual([]);
      expect(json.body.paths['/admin/stats'].get.security).toEqual([{ bearer: [] }]);
      expect(json.body.components.securitySchemes).not.toHaveProperty('apiKey');
      const ui = await t2.request().get('/docs').expect(200);
      expect(ui.text).toContain('swagger-ui');
    } finally {
      await t2.close();
    }
  });

  test('no marker is left on the handlers: a document built without the module has no auth in it', () => {
    const plain = SwaggerModule.createDocument(t.app, new DocumentBuilder().build()) as unknown as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    const op = plain.paths['/articles'].get;
    expect(op).not.toHaveProperty('x-nest-auth-route');
    expect(op).not.toHaveProperty('security');
  });
});

describe('OpenAPI document with another token header and rejecting public routes', () => {
  test('a raw token header becomes an apiKey scheme; a public route that rejects bad tokens documents 401', async () => {
    const t = await createTestApp({ auth: { jwt: { header: 'x-token' }, publicRoutes: { invalidToken: 'reject' } }, controllers: [Admin] });
    try {
      const doc = createAuthOpenApiDocument(t.app, new DocumentBuilder().build(), { policyExtension: false });
      expect(doc.components?.securitySchemes?.bearer).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-token' });
      const health = operation(doc as never, 'get', '/health');
      expect(health.security).toEqual([]);
      expect(health.responses['401'].description).toContain('token_invalid');
      expect(health).not.toHaveProperty('x-auth');
    } finally {
      await t.close();
    }
  });
});
