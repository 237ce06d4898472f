import 'reflect-metadata';
import { ValidationPipe, type INestApplication, type LoggerService, type ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import request from 'supertest';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { AuthModule } from '../auth.module.js';
import { AuthService, type TokenPair } from '../auth.service.js';
import type { AuthModuleOptions, ResolvedAuthOptions } from '../options/auth-options.js';
import { TokenIssuer } from '../tokens/token-issuer.js';
import { ControllableRevocationStore } from './controllable-revocation-store.js';
import { RecordingAuditSink } from './recording-audit-sink.js';
import { TestClock } from './test-clock.js';
import { TestPasswordHasher, TestUsers, type TestUser } from './test-users.js';

/** An HMAC secret for tests (32+ bytes). */
export const TEST_JWT_SECRET = 'nest-auth-testing-secret-0123456789abcdef';

export interface TestAppOptions extends ModuleMetadata {
  /**
   * Options of the `AuthModule.forRoot()` the test app gets [a test secret, `TestUsers`, a fast test hasher,
   * the memory store with a `ControllableRevocationStore`, the test clock, a recording audit sink]. `'imported'`
   * when `imports` already bring the app's own AuthModule (e.g. the app's root module): its options are kept,
   * the clock and the recording audit sink are put in.
   */
  auth?: Partial<AuthModuleOptions> | 'imported';
  /** ['express'] */
  adapter?: 'express' | 'fastify';
  /** Nest's logger [silent]. */
  logger?: LoggerService | false;
  /** The clock the module reads (its `clock` option), which the test moves [a new `TestClock`]. */
  clock?: TestClock;
  /** Runs on the app before `init()` (pipes, prefix, versioning) [a whitelisting ValidationPipe]. */
  configure?: (app: INestApplication) => void | Promise<void>;
  /** Last word on the testing module (e.g. `overrideProvider`). */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

type Client = ReturnType<typeof request>;
/** A supertest client whose every request carries the credentials of one user. */
export type AsClient = Pick<Client, 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options'>;

/** A booted test app with the real module and guard, and the handles a test needs. */
export interface TestAuthApp {
  readonly app: INestApplication;
  readonly clock: TestClock;
  readonly audit: RecordingAuditSink;
  /** The revocation store a test can fail or hang (undefined with `auth: 'imported'` or a store of the test's own). */
  readonly revocationStore: ControllableRevocationStore | undefined;
  /** The users `session()` logs in (undefined when the app brings its own `users`). */
  readonly users: TestUsers | undefined;
  readonly authService: AuthService;
  /** A supertest client on the app, without credentials. */
  request(): Client;
  /** A valid access token for `user`, signed by the app's keys (no session: `logout()` needs `session()`). */
  accessToken(user?: TestUser, opts?: { expiresIn?: number }): string;
  /** A real session for `user` (stored in `users`, then logged in): `{ accessToken, refreshToken, ... }`. */
  session(user?: TestUser): Promise<TokenPair>;
  /** A login through the app's own `UserProvider`. */
  login(username: string, password: string): Promise<TokenPair>;
  /** Requests as `user` (a fresh access token) or with a token the test already holds. */
  as(user: TestUser | string | TokenPair): AsClient;
  /** Closes the app. */
  close(): Promise<void>;
}

/**
 * Boots a Nest app with the real AuthModule and its global guard:
 *
 *     const t = await createTestApp({ controllers: [ArticlesController] });
 *     await t.as({ permissions: ['articles:read'] }).get('/articles').expect(200);
 *     await t.request().get('/articles').expect(401);
 *     t.clock.advanceSeconds(901);            // the access token (900 s) has expired
 *     await t.close();
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestAuthApp> {
  const { auth = {}, adapter = 'express', logger = false, clock = new TestClock(), configure, override, imports = [], ...metadata } = options;
  let users: TestUsers | undefined;
  let revocationStore: ControllableRevocationStore | undefined;
  let builder: TestingModuleBuilder;
  let audit: RecordingAuditSink;

  if (auth === 'imported') {
    audit = new RecordingAuditSink();
    builder = Test.createTestingModule({ ...metadata, imports });
    // The app's own options stay; the test's clock and a recording sink (that still forwards to the app's) go in.
    builder = builder.overrideProvider(AuditEmitter).useFactory({
      factory: (resolved: ResolvedAuthOptions) => {
        audit = new RecordingAuditSink(resolved.audit);
        // Every reader of the clock reads `options.clock` when it needs the time, so swapping it here reaches them all.
        resolved.clock = clock;
        return new AuditEmitter({ ...resolved, audit });
      },
      inject: [AUTH_OPTIONS],
    });
  } else {
    audit = new RecordingAuditSink(auth.audit);
    if (auth.users === undefined) users = new TestUsers(auth.passwordHasher ?? new TestPasswordHasher());
    const ownStore =
      auth.stores?.revocations !== undefined || auth.revocation?.store !== undefined || (auth.store !== undefined && auth.store !== 'memory');
    if (!ownStore) revocationStore = new ControllableRevocationStore();
    const moduleOptions: AuthModuleOptions = {
      ...auth,
      jwt: { secret: TEST_JWT_SECRET, ...auth.jwt },
      users: auth.users ?? users,
      passwordHasher: auth.passwordHasher ?? new TestPasswordHasher(),
      audit,
      clock,
      ...(revocationStore ? { stores: { ...auth.stores, revocations: revocationStore } } : {}),
    };
    builder = Test.createTestingModule({ ...metadata, imports: [...imports, AuthModule.forRoot(moduleOptions)] });
  }
  if (override) builder = override(builder);

  const moduleRef = await builder.compile();
  let app: INestApplication;
  if (adapter === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = moduleRef.createNestApplication(new FastifyAdapter());
  } else {
    app = moduleRef.createNestApplication();
  }
  app.useLogger(logger);
  if (configure) await configure(app);
  else app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  await app.init();
  if (adapter === 'fastify') {
    await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
  }

  const issuer = app.get(TokenIssuer);
  const authService = app.get(AuthService);
  const resolved = app.get<ResolvedAuthOptions>(AUTH_OPTIONS);
  const header = resolved.jwt.header;
  const credential = (token: string) => (header === 'authorization' ? `Bearer ${token}` : token);
  const records = users ?? new TestUsers();

  // The module's own issuer (its keys, its claims, its clock): the token is one the app could have issued.
  const accessToken = (user: TestUser = {}, opts: { expiresIn?: number } = {}): string =>
    issuer.createTokenForUser(records.recordOf(user), { expiresIn: opts.expiresIn });

  const client = (): Client => request(app.getHttpServer());

  return {
    app,
    clock,
    get audit() {
      return audit;
    },
    revocationStore,
    users,
    authService,
    request: client,
    accessToken,
    async session(user: TestUser = {}) {
      if (!users) throw new Error('session(): the app has its own UserProvider; use login(username, password)');
      const password = `pw-${Math.random().toString(36).slice(2)}`;
      const record = await users.add({ ...user, password });
      return pairOf(authService.login(record.username, password));
    },
    login: (username, password) => pairOf(authService.login(username, password)),
    as(user) {
      const token = typeof user === 'string' ? user : isPair(user) ? user.accessToken : accessToken(user);
      const value = credential(token);
      const http = client();
      const withAuth = (method: keyof AsClient) => (url: string) => http[method](url).set(header, value);
      return {
        get: withAuth('get'),
        post: withAuth('post'),
        put: withAuth('put'),
        patch: withAuth('patch'),
        delete: withAuth('delete'),
        head: withAuth('head'),
        options: withAuth('options'),
      } as AsClient;
    },
    async close() {
      await app.close();
    },
  };
}

function isPair(value: unknown): value is TokenPair {
  return typeof value === 'object' && value !== null && typeof (value as TokenPair).accessToken === 'string';
}

/** The kit logs in from test code, outside any request: no cookies are set there, so the answer is the pair itself. */
async function pairOf(answer: ReturnType<AuthService['login']>): Promise<TokenPair> {
  return (await answer) as TokenPair;
}
