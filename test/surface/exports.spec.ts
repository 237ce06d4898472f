/**
 * The public surface, held on purpose (README "Public surface"): every name of the root entry and of each subpath,
 * types included, against the list below. A name added or removed fails here until the list (and the README) says
 * so. The second half implements each interface an app may implement with nothing but exported names: an interface
 * that needs an internal type to be written fails the type check (`npm test` runs `tsc` first).
 */
import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as rootEntry from '../../src/index.js';
import type {
  ApiKeyRecord,
  ApiKeyStore,
  AuditEvent,
  AuditSink,
  AuthClock,
  AuthUserRecord,
  Carrier,
  Credential,
  CredentialSource,
  NewSession,
  PasswordHasher,
  RevocationChannel,
  RevocationChannelListener,
  RevocationChannelStartOptions,
  RevocationEvent,
  RevocationStore,
  SessionRecord,
  SessionStore,
  ThrottleHit,
  ThrottleStore,
  UserCutoffStore,
  UserProvider,
} from '../../src/index.js';
import * as swaggerEntry from '../../src/swagger/index.js';
import * as testingEntry from '../../src/testing/index.js';
import * as transportsEntry from '../../src/transports/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Entry point (as in package.json's `exports`) → its source. */
const ENTRIES = {
  '.': 'src/index.ts',
  testing: 'src/testing/index.ts',
  swagger: 'src/swagger/index.ts',
  transports: 'src/transports/index.ts',
} as const;
type Entry = keyof typeof ENTRIES;

const RUNTIME: Record<Entry, object> = { '.': rootEntry, testing: testingEntry, swagger: swaggerEntry, transports: transportsEntry };

/** The surface: sorted, types and values alike. */
const SURFACE: Record<Entry, string[]> = {
  '.': [
    'API_KEY_STORE',
    'AUTH_ERROR_MESSAGES',
    'AUTH_ERROR_STATUS',
    'AccessTokenClaims',
    'ApiKeyInfo',
    'ApiKeyRecord',
    'ApiKeyService',
    'ApiKeyStore',
    'ApiKeysOptions',
    'Argon2Params',
    'Argon2PasswordHasher',
    'AuditEvent',
    'AuditEventType',
    'AuditSink',
    'AuthBusyException',
    'AuthClock',
    'AuthConfigError',
    'AuthContext',
    'AuthContextData',
    'AuthError',
    'AuthErrorBody',
    'AuthErrorCode',
    'AuthModule',
    'AuthModuleAsyncOptions',
    'AuthModuleExtras',
    'AuthModuleForRootOptions',
    'AuthModuleOptions',
    'AuthPrincipal',
    'AuthRoute',
    'AuthService',
    'AuthUserRecord',
    'CacheStoreOptions',
    'Carrier',
    'ClientAddressReader',
    'Credential',
    'CredentialSource',
    'CurrentUser',
    'DeviceCookieOptions',
    'DpopRedisLike',
    'InMemoryRevocationStore',
    'InMemoryThrottleStore',
    'JwsAlgorithm',
    'JwtAuthGuard',
    'JwtKeyOptions',
    'JwtOptions',
    'JwtStrategy',
    'LoginDto',
    'LoginThrottle',
    'LoginThrottleOptions',
    'NestAuthGuard',
    'NewSession',
    'NonEmpty',
    'PASSWORD_HASHER',
    'PasswordHasher',
    'PermissionCatalog',
    'PermissionHolder',
    'PermissionRequired',
    'PermissionRequiredOptions',
    'PostgresRevocationChannel',
    'Public',
    'REVOCATION_CHANNEL',
    'REVOCATION_STORE',
    'RedisRevocationChannel',
    'RedisThrottleStore',
    'RefreshTokenDto',
    'RevocationChannel',
    'RevocationChannelListener',
    'RevocationChannelOption',
    'RevocationChannelStartOptions',
    'RevocationEvent',
    'RevocationOptions',
    'RevocationStore',
    'RouteEntry',
    'RoutePolicy',
    'RoutePolicyService',
    'SESSION_STORE',
    'SessionInfo',
    'SessionRecord',
    'SessionStore',
    'SkipLoginThrottle',
    'StaffOnly',
    'StoreOption',
    'StoresOptions',
    'SuperuserOnly',
    'THROTTLE_STORE',
    'ThrottleHit',
    'ThrottleLimit',
    'ThrottleStore',
    'TokenPair',
    'TooManyAttemptsException',
    'TrustedIssuerClaims',
    'TrustedIssuerDpopOptions',
    'TrustedIssuerIntrospectionOptions',
    'TrustedIssuerOptions',
    'TrustedIssuerPreset',
    'TypeOrmRevocationStore',
    'TypedPermissionRequired',
    'USER_CUTOFF_STORE',
    'UserCutoffStore',
    'UserProvider',
    'assertPermissionsInCatalog',
    'authEntities',
    'authMigrations',
    'collectRoutes',
    'definePermissions',
    'describeAccess',
    'formatRouteTable',
    'printRouteTable',
  ],
  testing: [
    'AsClient',
    'ControllableRevocationStore',
    'RecordingAuditSink',
    'TEST_JWT_SECRET',
    'TestAppOptions',
    'TestAuthApp',
    'TestClock',
    'TestPasswordHasher',
    'TestUser',
    'TestUsers',
    'createTestApp',
  ],
  swagger: [
    'AUTH_ERROR_SCHEMA_NAME',
    'AUTH_SECURITY_SCHEMES',
    'AuthOpenApiOptions',
    'DocumentedAuthCode',
    'accessTokenCookieOf',
    'authErrorBodySchema',
    'createAuthOpenApiDocument',
  ],
  transports: [
    'AuthGraphqlError',
    'AuthTransportsModule',
    'AuthTransportsOptions',
    'CarrierHeaders',
    'CarrierOptions',
    'CarrierReader',
    'GraphqlWsContext',
    'GraphqlWsHooks',
    'SESSION_ENDED_EVENT',
    'SocketIoClient',
    'SocketIoMiddleware',
    'TransportAuth',
    'TransportCarrier',
    'TransportType',
    'WsClient',
  ],
};

/** Every exported name of each entry, and which of them are values, as the compiler sees them. */
function compiledSurface(): Record<Entry, { names: string[]; values: string[] }> {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram(
    Object.values(ENTRIES).map((f) => join(root, f)),
    { ...options, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const out = {} as Record<Entry, { names: string[]; values: string[] }>;
  for (const [entry, file] of Object.entries(ENTRIES) as Array<[Entry, string]>) {
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(join(root, file))!)!);
    const resolved = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
    out[entry] = {
      names: exports.map((s) => s.name).sort(),
      values: exports
        .filter((s) => resolved(s).flags & ts.SymbolFlags.Value && !(s.declarations ?? []).some((d) => ts.isTypeOnlyImportOrExportDeclaration(d)))
        .map((s) => s.name)
        .sort(),
    };
  }
  return out;
}

describe('the public surface', () => {
  const compiled = compiledSurface();

  test.each(Object.keys(ENTRIES) as Entry[])('%s exports exactly the listed names', (entry) => {
    expect(compiled[entry].names).toEqual([...SURFACE[entry]].sort());
  });

  test.each(Object.keys(ENTRIES) as Entry[])('%s: the values the compiler sees are the ones the module gives at run time', (entry) => {
    expect(Object.keys(RUNTIME[entry]).sort()).toEqual(compiled[entry].values);
  });

  test('internals stay internal', () => {
    const all = Object.values(SURFACE).flat();
    for (const internal of [
      'LoginAttempt',
      'boundStore',
      'RevocationVerdict',
      'RevocationClaims',
      'RevocationFeed',
      'toHttpException',
      'AUTH_OPTIONS',
    ]) {
      expect(all).not.toContain(internal);
    }
  });
});

// What an app may implement, written with exported names only (a failure here is a compile error of `npm test`).

class AppSessionStore implements SessionStore {
  readonly rows = new Map<string, SessionRecord>();
  async create(session: NewSession): Promise<void> {
    this.rows.set(session.id, { ...session, lastUsedAt: session.createdAt, endedAt: null });
  }
  async find(id: string): Promise<SessionRecord | null> {
    return this.rows.get(id) ?? null;
  }
  async rotate(_id: string, _fromJti: string, _toJti: string, _now: Date, _expiresAt?: Date): Promise<boolean> {
    return false;
  }
  async rotatedOutAt(_id: string, _jti: string): Promise<Date | null> {
    return null;
  }
  async end(_id: string, _now: Date, _reason: string): Promise<boolean> {
    return false;
  }
  async endAllForUser(_userId: string, _now: Date, _reason: string): Promise<string[]> {
    return [];
  }
  async listForUser(_userId: string, _now: Date): Promise<SessionRecord[]> {
    return [];
  }
  async endedSince(_since: Date): Promise<Array<{ id: string; endedAt: Date }>> {
    return [];
  }
  async purgeEndedBefore(_before: Date): Promise<number> {
    return 0;
  }
}

const appRevocationStore = {
  async revoke(_jti: string, _expiresAt: Date, _meta?: { userId?: string; reason?: string }) {},
  async isRevoked(_jti: string) {
    return false;
  },
  async purgeExpired(_now?: Date) {
    return 0;
  },
} satisfies RevocationStore;

const appCutoffStore = {
  async set(_userId: string, _at: Date) {},
  async get(_userId: string): Promise<Date | null> {
    return null;
  },
  async since(_since: Date): Promise<Array<{ userId: string; at: Date }>> {
    return [];
  },
  async purgeOlderThan(_before: Date) {
    return 0;
  },
} satisfies UserCutoffStore;

const appApiKeyStore = {
  async insert(_key: ApiKeyRecord) {},
  async findByPrefix(_prefix: string): Promise<ApiKeyRecord | null> {
    return null;
  },
  async list(): Promise<ApiKeyRecord[]> {
    return [];
  },
  async revoke(_id: string, _at: Date) {
    return false;
  },
  async touch(_lastUsed: ReadonlyMap<string, Date>) {},
} satisfies ApiKeyStore;

const appThrottleStore = {
  async hit(_key: string, _windowMs: number): Promise<ThrottleHit> {
    return { count: 1, resetAt: Date.now() + 60_000 };
  },
  async release(_key: string) {},
  async reset(_key: string) {},
} satisfies ThrottleStore;

class AppChannel implements RevocationChannel {
  readonly name = 'app';
  private listener?: RevocationChannelListener;
  async start(listener: RevocationChannelListener, _options: RevocationChannelStartOptions): Promise<void> {
    this.listener = listener;
  }
  async publish(_event: RevocationEvent): Promise<void> {}
  async stop(): Promise<void> {
    this.listener = undefined;
  }
  get started(): boolean {
    return this.listener !== undefined;
  }
}

const appUsers = {
  async findByUsername(_username: string): Promise<AuthUserRecord | null> {
    return null;
  },
  async findById(_id: string): Promise<AuthUserRecord | null> {
    return null;
  },
} satisfies UserProvider;

const appHasher = {
  async hash(plain: string) {
    return `plain$${plain}`;
  },
  async verify(hash: string, plain: string) {
    return hash === `plain$${plain}`;
  },
} satisfies PasswordHasher;

const appAuditSink = {
  emit(_event: AuditEvent) {},
} satisfies AuditSink;

const appClock = { now: () => Date.now() } satisfies AuthClock;

const appCredentialSource = {
  read(_carrier: Carrier): Credential | undefined {
    return undefined;
  },
} satisfies CredentialSource;

test('the interfaces an app implements are implementable from exported names', () => {
  const implementations = [
    new AppSessionStore(),
    appRevocationStore,
    appCutoffStore,
    appApiKeyStore,
    appThrottleStore,
    new AppChannel(),
    appUsers,
    appHasher,
    appAuditSink,
    appClock,
    appCredentialSource,
  ];
  expect(implementations.every((i) => typeof i === 'object')).toBe(true);
});
