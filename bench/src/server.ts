// One benchmark server: `node dist-bench/server.js <bare|auth|recipe> <express|fastify> <port>`.
// Prints "ready" on stdout once it listens.
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, type DynamicModule, type Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  Argon2PasswordHasher,
  AuthModule,
  AuthService,
  CurrentUser,
  PermissionRequired,
  Public,
  authEntities,
  type AuthPrincipal,
  type AuthUserRecord,
  type UserProvider,
} from '@democrai/nest-auth';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECIPE_SECRET, RecipeJwtGuard, RecipeJwtStrategy, RecipePermissions, RecipePermissionsGuard, RecipePublic } from './recipe.js';

const [variant, adapter, portArg] = process.argv.slice(2);
const ARTICLES = [
  { id: 1, title: 'hello' },
  { id: 2, title: 'world' },
];
export const BENCH_USER = { username: 'bench', password: 'bench-password-123' };

@Controller()
class BareController {
  @Get('articles')
  articles() {
    return ARTICLES;
  }
  @Get('token')
  token() {
    return { token: '' };
  }
}

@Controller()
class AuthBenchController {
  constructor(private readonly auth: AuthService) {}
  @PermissionRequired('articles:read')
  @Get('articles')
  articles() {
    return ARTICLES;
  }
  @Get('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user;
  }
  @Public()
  @Get('token')
  async token() {
    const pair = await this.auth.login(BENCH_USER.username, BENCH_USER.password);
    return { token: pair.accessToken };
  }
  @Public()
  @Post('auth/login')
  @HttpCode(200)
  login(@Body() body: { username: string; password: string }) {
    return this.auth.login(body.username, body.password);
  }
}

@Controller()
class RecipeController {
  constructor(private readonly jwt: JwtService) {}
  @RecipePermissions('articles:read')
  @Get('articles')
  articles() {
    return ARTICLES;
  }
  @RecipePublic()
  @Get('token')
  token() {
    return { token: this.jwt.sign({ sub: '1', username: 'bench', permissions: ['articles:read'] }, { expiresIn: 3600 }) };
  }
}

class BenchUsers implements UserProvider {
  private readonly user: Promise<AuthUserRecord>;
  constructor() {
    this.user = new Argon2PasswordHasher()
      .hash(BENCH_USER.password)
      .then((passwordHash) => ({ id: 1, username: BENCH_USER.username, passwordHash, permissions: ['articles:read'] }));
  }
  async findByUsername(username: string) {
    const user = await this.user;
    return user.username === username ? user : null;
  }
  async findById(id: string) {
    const user = await this.user;
    return String(user.id) === id ? user : null;
  }
}

function moduleFor(kind: string): Type | DynamicModule {
  if (kind === 'bare') {
    @Module({ controllers: [BareController] })
    class BareModule {}
    return BareModule;
  }
  if (kind === 'auth') {
    const dir = mkdtempSync(join(tmpdir(), 'nest-auth-bench-'));
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(dir, 'bench.sqlite'), entities: authEntities, synchronize: true }),
        AuthModule.forRoot({
          jwt: { secret: RECIPE_SECRET },
          users: new BenchUsers(),
          store: 'typeorm',
          revocation: { consistency: 'cached' },
          audit: { emit: () => undefined },
        }),
      ],
      controllers: [AuthBenchController],
    })
    class AuthBenchModule {}
    return AuthBenchModule;
  }
  @Module({
    imports: [JwtModule.register({ secret: RECIPE_SECRET })],
    controllers: [RecipeController],
    providers: [RecipeJwtStrategy, { provide: APP_GUARD, useClass: RecipeJwtGuard }, { provide: APP_GUARD, useClass: RecipePermissionsGuard }],
  })
  class RecipeModule {}
  return RecipeModule;
}

const app =
  adapter === 'fastify'
    ? await NestFactory.create(moduleFor(variant), new FastifyAdapter(), { logger: false })
    : await NestFactory.create(moduleFor(variant), { logger: false });
await app.listen(Number(portArg), '127.0.0.1');
process.stdout.write('ready\n');
// A clean exit on a signal, so `--cpu-prof` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close().finally(() => process.exit(0)));
