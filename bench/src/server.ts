// One benchmark server: `node dist-bench/server.js <variant> <express|fastify> <port>`, variants:
//   bare              the same route without the module
//   bare-interceptor  bare + a global interceptor that wraps the handler in an Observable (no ALS)
//   bare-als          bare + the same interceptor entering an AsyncLocalStorage.run per request
//   bare-guard        bare + a global guard that returns true: what Nest itself charges for any guard
//   auth              AuthModule with its defaults (requestContext 'auto'): HS256 (or BENCH_ALG with the keys of BENCH_KEYS),
//                     @PermissionRequired, TypeORM/SQLite cached revocation; the measured controller does not inject AuthService
//   auth-ctx          auth with `requestContext: true`: every guarded handler runs inside AsyncLocalStorage.run()
//   auth-noctx        auth with `requestContext: false` (no interceptor at all)
//   issuer            AuthModule with trustedIssuers only: an identity provider's BENCH_ALG tokens (RS256 or ES256, key of
//                     BENCH_KEYS), its JWK Set served on loopback by this process (read at boot and every 10 min), the
//                     same route and TypeORM/SQLite cached revocation as auth
//   recipe            the NestJS docs recipe (passport-jwt)
// Prints "ready <port>" on stdout once it listens (port 0 or none: one the system assigns). BENCH_GC=1: GC counts and pauses on stderr at exit.
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  type CallHandler,
  type CanActivate,
  type Provider,
  type DynamicModule,
  type ExecutionContext,
  type NestInterceptor,
  type Type,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { Observable } from 'rxjs';
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

/** The measured routes: like most of an app's controllers, they do not inject AuthService. */
@Controller()
class ArticlesBenchController {
  @PermissionRequired('articles:read')
  @Get('articles')
  articles() {
    return ARTICLES;
  }
  @Get('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user;
  }
}

/** The routes that log in: they inject AuthService, so with requestContext 'auto' they run in the request context. */
@Controller()
class AuthBenchController {
  constructor(private readonly auth: AuthService) {}
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

/** What the module's request context will do per request: the handler runs inside als.run(). */
const als = new AsyncLocalStorage<{ request: unknown }>();

@Injectable()
class AlsInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const store = { request: ctx.getArgByIndex(0) };
    return new Observable((subscriber) => als.run(store, () => next.handle().subscribe(subscriber)));
  }
}

/** Lets every call through, synchronously: the floor of any guard in Nest (its guard consumer, an await per request). */
@Injectable()
class AllowGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/** The same wrapping without the AsyncLocalStorage: separates the interceptor's cost from the ALS's. */
@Injectable()
class PlainInterceptor implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return new Observable((subscriber) => next.handle().subscribe(subscriber));
  }
}

/** `jwt` options for BENCH_ALG from the key file run.mjs writes (HS256 on the recipe's secret by default). */
function jwtOptions(): Record<string, unknown> {
  const alg = process.env.BENCH_ALG ?? 'HS256';
  const keys = process.env.BENCH_KEYS ? (JSON.parse(readFileSync(process.env.BENCH_KEYS, 'utf8')) as Record<string, string>) : {};
  if (alg === 'HS256') return { secret: keys.HS256 ?? RECIPE_SECRET, algorithms: ['HS256'] };
  if (!keys[alg]) throw new Error(`BENCH_KEYS has no key for ${alg}`);
  return { privateKey: keys[alg], algorithms: [alg] };
}

/** The provider of the `issuer` workload: what run.mjs mints its tokens as (iss, aud, kid). */
export const BENCH_ISSUER = { issuer: 'https://idp.bench.test', audience: 'bench-api', kid: 'bench-issuer' };

/** Serves the public half of BENCH_ALG's key as a JWK Set on 127.0.0.1; resolves its URL. */
async function serveJwks(): Promise<string> {
  const alg = process.env.BENCH_ALG ?? 'RS256';
  const keys = JSON.parse(readFileSync(process.env.BENCH_KEYS!, 'utf8')) as Record<string, string>;
  const jwk = createPublicKey(createPrivateKey(keys[alg]!)).export({ format: 'jwk' });
  const body = JSON.stringify({ keys: [{ ...jwk, kid: BENCH_ISSUER.kid, alg, use: 'sig' }] });
  const server = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }).end(body),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
}

function moduleFor(kind: string, jwksUri?: string): Type | DynamicModule {
  if (kind === 'issuer') {
    const dir = mkdtempSync(join(tmpdir(), 'nest-auth-bench-'));
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(dir, 'bench.sqlite'), entities: authEntities, synchronize: true }),
        AuthModule.forRoot({
          trustedIssuers: [
            {
              issuer: BENCH_ISSUER.issuer,
              audience: BENCH_ISSUER.audience,
              jwksUri,
              algorithms: [(process.env.BENCH_ALG ?? 'RS256') as 'RS256' | 'ES256'],
              claims: { permissions: 'permissions', username: 'username' },
              // run.mjs mints tokens for 6 days, reused between runs.
              maxTokenLifetime: 7 * 86400,
            },
          ],
          store: 'typeorm',
          revocation: { consistency: 'cached' },
          audit: { emit: () => undefined },
        }),
      ],
      controllers: [ArticlesBenchController],
    })
    class IssuerBenchModule {}
    return IssuerBenchModule;
  }
  if (kind === 'bare' || kind === 'bare-als' || kind === 'bare-interceptor' || kind === 'bare-guard') {
    const interceptor = kind === 'bare-als' ? AlsInterceptor : kind === 'bare-interceptor' ? PlainInterceptor : undefined;
    const providers: Provider[] = interceptor ? [{ provide: APP_INTERCEPTOR, useClass: interceptor }] : [];
    if (kind === 'bare-guard') providers.push({ provide: APP_GUARD, useClass: AllowGuard });
    @Module({ controllers: [BareController], providers })
    class BareModule {}
    return BareModule;
  }
  if (kind === 'auth' || kind === 'auth-ctx' || kind === 'auth-noctx') {
    const dir = mkdtempSync(join(tmpdir(), 'nest-auth-bench-'));
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'better-sqlite3', database: join(dir, 'bench.sqlite'), entities: authEntities, synchronize: true }),
        AuthModule.forRoot({
          jwt: jwtOptions() as never,
          users: new BenchUsers(),
          store: 'typeorm',
          revocation: { consistency: 'cached' },
          audit: { emit: () => undefined },
          // auth: the default ('auto': the context only for handlers whose class reaches AuthService);
          // auth-ctx: every guarded handler in the context; auth-noctx: no interceptor at all.
          requestContext: kind === 'auth' ? 'auto' : kind === 'auth-ctx',
        }),
      ],
      controllers: [ArticlesBenchController, AuthBenchController],
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

const root = moduleFor(variant, variant === 'issuer' ? await serveJwks() : undefined);
const app =
  adapter === 'fastify' ? await NestFactory.create(root, new FastifyAdapter(), { logger: false }) : await NestFactory.create(root, { logger: false });
const gc = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, other: 0, otherMs: 0 };
if (process.env.BENCH_GC === '1') {
  // kind: 1 scavenge, 2 mark-sweep-compact, 4 incremental marking, 8 weak callbacks.
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === 1) {
        gc.scavenges++;
        gc.scavengeMs += e.duration;
      } else if (kind === 2) {
        gc.markCompacts++;
        gc.markCompactMs += e.duration;
      } else {
        gc.other++;
        gc.otherMs += e.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
}

// Port 0 (the default): the system picks a free port and the line says which, so no port chosen by the
// bench can be taken by another process before the server binds it.
// The verified-token cache's entry count, for run.mjs to count the misses of a slice (every miss of these runs is
// admitted: the cache holds more than 200,000 login tokens). The Authenticator is internal, so it is found by its
// class name in Nest's container; bench-only, never an API. Undefined for the bare and recipe apps.
const verifiedCache = (() => {
  const container = (
    app as unknown as { container: { getModules(): Map<string, { providers: Map<unknown, { name?: string; instance?: unknown }> }> } }
  ).container;
  for (const module of container.getModules().values())
    for (const wrapper of module.providers.values())
      if (wrapper.name === 'Authenticator') return (wrapper.instance as { verified: { size: number } }).verified;
  return undefined;
})();
// Only where the module's own tokens are sent: a provider's tokens are kept in the trusted issuers' cache.
if (verifiedCache !== undefined && variant.startsWith('auth')) {
  const http = app.getHttpAdapter();
  http.get('/bench/verified', (_req: unknown, res: unknown) => http.reply(res, { size: verifiedCache.size }, 200));
}

await app.listen(Number(portArg ?? 0), '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
process.stdout.write(`ready ${address.port}\n`);
// A clean exit on a signal, so `--cpu-prof` writes its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (process.env.BENCH_GC === '1') {
      const heap = getHeapStatistics();
      process.stderr.write(
        `BENCH_GC ${JSON.stringify({ ...gc, heapUsedMb: heap.used_heap_size / 2 ** 20, rssMb: process.memoryUsage().rss / 2 ** 20 })}\n`,
      );
    }
    void app.close().finally(() => process.exit(0));
  });
}
