import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Get, Post, SetMetadata, UseGuards, type INestApplication } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  AuthModule,
  AuthService,
  CurrentUser,
  JwtAuthGuard,
  NestAuthGuard,
  PermissionRequired,
  Public,
  RoutePolicyService,
  StaffOnly,
  SuperuserOnly,
  type AuthPrincipal,
} from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { CapturingLogger } from '../support/logger.js';
import { MemoryUsers } from '../support/users.js';

/** A class-level @Public() opens only the methods without an authorization decorator of their own. */
@Controller('mixed')
@Public()
class MixedController {
  @Get('open')
  open(@CurrentUser() user: AuthPrincipal | undefined) {
    return { user: user?.username ?? null };
  }

  @SuperuserOnly()
  @Get('superuser')
  superuser() {
    return { ok: true };
  }

  @StaffOnly()
  @Get('staff')
  staff() {
    return { ok: true };
  }

  @PermissionRequired('articles:write')
  @Post('write')
  write() {
    return { ok: true };
  }
}

describe.each(ADAPTERS)('decorator precedence, %s', (adapter) => {
  let app: INestApplication;
  let tokens: Record<'alice' | 'bob' | 'root', string>;
  beforeAll(async () => {
    const users = await MemoryUsers.create();
    app = await bootApp({ jwt: { secret: SECRET }, users }, { adapter, controllers: [MixedController] });
    const auth = app.get(AuthService);
    tokens = {
      alice: await auth.createTokenForUser(users.get('alice')),
      bob: await auth.createTokenForUser(users.get('bob')),
      root: await auth.createTokenForUser(users.get('root')),
    };
  });
  afterAll(() => app.close());

  test.each([
    ['GET', '/mixed/superuser', { anonymous: 401, alice: 403, bob: 403, root: 200 }],
    ['GET', '/mixed/staff', { anonymous: 401, alice: 403, bob: 200, root: 200 }],
    ['POST', '/mixed/write', { anonymous: 401, alice: 403, bob: 201, root: 201 }],
    ['GET', '/mixed/open', { anonymous: 200, alice: 200, bob: 200, root: 200 }],
  ] as const)('%s %s under a class-level @Public()', async (method, path, expected) => {
    const http = request(app.getHttpServer());
    const send = (token?: string) => {
      const req = method === 'GET' ? http.get(path) : http.post(path);
      return token ? req.set('Authorization', `Bearer ${token}`) : req;
    };
    const anonymous = await send();
    expect(anonymous.status).toBe(expected.anonymous);
    if (anonymous.status === 401) expect(anonymous.body.code).toBe('token_missing');
    for (const who of ['alice', 'bob', 'root'] as const) {
      const res = await send(tokens[who]);
      expect([who, res.status]).toEqual([who, expected[who]]);
      if (res.status === 403) expect(res.body.code).toBe('permission_denied');
    }
  });

  test('the computed policy of every route is exposed', () => {
    const routes = app.get(RoutePolicyService).routes();
    const byRoute = Object.fromEntries(routes.map((r) => [r.route, r]));
    expect(byRoute['MixedController.open'].policy.isPublic).toBe(true);
    expect(byRoute['MixedController.superuser'].policy).toMatchObject({ isPublic: false, superuserOnly: true, required: 'superuser' });
    expect(byRoute['MixedController.write']).toMatchObject({ http: { method: 'POST', path: '/mixed/write' }, guarded: true });
    expect(byRoute['MixedController.write'].policy.required).toBe('all:articles:write');
  });
});

describe('contradictions fail while the controller is loaded, naming it', () => {
  test('@Public() and an authorization decorator on one method', () => {
    expect(() => {
      class Contradicting {
        @Public()
        @SuperuserOnly()
        handler() {}
      }
      return Contradicting;
    }).toThrow(/Contradicting\.handler/);
    expect(() => {
      class Reversed {
        @PermissionRequired('a')
        @Public()
        handler() {}
      }
      return Reversed;
    }).toThrow(/Reversed\.handler/);
  });

  test('@Public() and an authorization decorator on one class', () => {
    expect(() => {
      @Public()
      @StaffOnly()
      class ContradictingClass {}
      return ContradictingClass;
    }).toThrow(/ContradictingClass/);
  });

  test('metadata set by other means fails the boot naming Controller.method', async () => {
    @Controller('sneaky')
    class SneakyController {
      @SetMetadata('nest-auth:public', true)
      @SuperuserOnly()
      @Get()
      handler() {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [AuthModule.forRoot({ jwt: { secret: SECRET } })],
      controllers: [SneakyController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(/SneakyController\.handler/);
    await app.close().catch(() => undefined);
  });
});

/** The same decorators under each guard the module exports, placed by the app. */
function composedController(guard: unknown) {
  @Controller('composed')
  @UseGuards(guard as never)
  class ComposedController {
    @Public()
    @Get('public')
    open(@CurrentUser() user: AuthPrincipal | undefined) {
      return { user: user?.username ?? null };
    }

    @Get('private')
    private(@CurrentUser() user: AuthPrincipal) {
      return { user: user.username };
    }

    @PermissionRequired('articles:write')
    @Post('write')
    write() {
      return { ok: true };
    }

    @SuperuserOnly()
    @Get('superuser')
    superuser() {
      return { ok: true };
    }
  }
  return ComposedController;
}

const GUARDS: Array<[string, unknown]> = [
  ['NestAuthGuard', NestAuthGuard],
  ['JwtAuthGuard', JwtAuthGuard],
  ["AuthGuard('jwt')", AuthGuard('jwt')],
];

describe.each(GUARDS)('with globalGuard: false, %s enforces the route policy', (_name, guard) => {
  let app: INestApplication;
  let tokens: Record<'alice' | 'bob', string>;
  beforeAll(async () => {
    const users = await MemoryUsers.create();
    app = await bootApp({ jwt: { secret: SECRET }, users, globalGuard: false }, { controllers: [composedController(guard)] });
    const auth = app.get(AuthService);
    tokens = { alice: await auth.createTokenForUser(users.get('alice')), bob: await auth.createTokenForUser(users.get('bob')) };
  });
  afterAll(() => app.close());

  test('@Public() is open to guests and still fills a valid principal', async () => {
    const http = request(app.getHttpServer());
    const guest = await http.get('/composed/public');
    expect(guest.status).toBe(200);
    expect(guest.body).toEqual({ user: null });
    const alice = await http.get('/composed/public').set('Authorization', `Bearer ${tokens.alice}`);
    expect(alice.body).toEqual({ user: 'alice' });
  });

  test('no token on a private route: 401 token_missing with a bare Bearer challenge', async () => {
    const res = await request(app.getHttpServer()).get('/composed/private');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.any(String), code: 'token_missing' });
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  test('a bad token: 401 token_invalid with error="invalid_token"', async () => {
    const res = await request(app.getHttpServer()).get('/composed/private').set('Authorization', 'Bearer x.y.z');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('token_invalid');
    expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  test('permissions and superuser: 403 permission_denied for who lacks them', async () => {
    const http = request(app.getHttpServer());
    const alice = await http.post('/composed/write').set('Authorization', `Bearer ${tokens.alice}`);
    expect(alice.status).toBe(403);
    expect(alice.body.code).toBe('permission_denied');
    expect((await http.post('/composed/write').set('Authorization', `Bearer ${tokens.bob}`)).status).toBe(201);
    const su = await http.get('/composed/superuser').set('Authorization', `Bearer ${tokens.bob}`);
    expect(su.status).toBe(403);
    expect(su.body.code).toBe('permission_denied');
  });
});

@Controller('forgotten')
class ForgottenGuardController {
  @PermissionRequired('articles:write')
  @Post()
  write() {
    return { ok: true };
  }
  @Get('plain')
  plain() {
    return { ok: true };
  }
}

test('with globalGuard: false, a decorated handler no module guard protects is reported at boot', async () => {
  const logger = new CapturingLogger();
  const app = await bootApp({ jwt: { secret: SECRET }, globalGuard: false }, { controllers: [ForgottenGuardController], logger });
  try {
    expect(logger.lines.filter((l) => l.includes('ForgottenGuardController.write') && l.includes('no module guard'))).toHaveLength(1);
    expect(logger.text).not.toContain('ForgottenGuardController.plain carries');
  } finally {
    await app.close();
  }
});
