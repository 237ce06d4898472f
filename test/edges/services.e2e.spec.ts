import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  Catch,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Post,
  ServiceUnavailableException,
  UnauthorizedException,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { AuthService, PermissionRequired, type AuditEvent, type RevocationStore } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { enabledDatabases, migratedDataSource } from '../support/databases.js';
import { bearer, login } from '../support/http.js';
import { CapturingLogger } from '../support/logger.js';
import { MemoryUsers } from '../support/users.js';

/** Calls refreshCurrentSessionToken() several times at once inside one request: the tightest race there is. */
@Controller('race')
class RaceController {
  constructor(private readonly auth: AuthService) {}
  @Post('refresh-current')
  @HttpCode(200)
  async race() {
    const settled = await Promise.allSettled(Array.from({ length: 8 }, () => this.auth.refreshCurrentSessionToken()));
    return settled.map((r) => (r.status === 'fulfilled' ? { pair: r.value } : { code: (r.reason as { code?: string }).code }));
  }
}

/** N concurrent refreshCurrentSessionToken() calls with one access token (HTTP requests, and calls inside one request): exactly one pair. */
async function raceRefreshCurrent(app: INestApplication, n = 12) {
  const http = request(app.getHttpServer());
  const check = async (winners: Array<{ accessToken: string; refreshToken: string }>, losers: Array<{ code?: string }>) => {
    expect(winners).toHaveLength(1);
    for (const l of losers) expect(l.code).toBe('token_revoked');
    // The session lives on with the winner's pair: the losers did not end it.
    expect((await http.get('/private').set(bearer(winners[0].accessToken))).status).toBe(200);
    expect((await http.post('/auth/refresh').send({ refreshToken: winners[0].refreshToken })).status).toBe(200);
  };

  const first = await login(app);
  const results = await Promise.all(Array.from({ length: n }, () => http.post('/auth/refresh-current').set(bearer(first.accessToken))));
  for (const r of results) expect([200, 401]).toContain(r.status);
  await check(
    results.filter((r) => r.status === 200).map((r) => r.body),
    results.filter((r) => r.status !== 200).map((r) => r.body),
  );

  const second = await login(app);
  const inner = await http.post('/race/refresh-current').set(bearer(second.accessToken));
  expect(inner.status).toBe(200);
  const calls = inner.body as Array<{ pair?: { accessToken: string; refreshToken: string }; code?: string }>;
  await check(
    calls.filter((c) => c.pair).map((c) => c.pair!),
    calls.filter((c) => !c.pair),
  );
}

describe.each(ADAPTERS)('concurrent refreshCurrentSessionToken() on the memory store, %s', (adapter) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await bootApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create() },
      { adapter, controllers: [...ALL_CONTROLLERS, RaceController] },
    );
  });
  afterAll(() => app.close());
  test('exactly one wins, the others are 401 token_revoked', () => raceRefreshCurrent(app));
});

describe.each(enabledDatabases())('concurrent refreshCurrentSessionToken() on $name', (target) => {
  let app: INestApplication;
  beforeAll(async () => {
    await target.reset();
    await (await migratedDataSource(target)).destroy();
    app = await bootApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), store: 'typeorm' },
      { controllers: [...ALL_CONTROLLERS, RaceController], imports: [TypeOrmModule.forRoot(target.options())] },
    );
  });
  afterAll(() => app.close());
  test('exactly one wins, the others are 401 token_revoked', () => raceRefreshCurrent(app));
});

/** What an app's own filter sees of the module's failures. */
const seen: string[] = [];
@Catch()
class RecordingFilter implements ExceptionFilter {
  catch(err: unknown, host: ArgumentsHost) {
    seen.push(
      err instanceof UnauthorizedException
        ? 'Unauthorized'
        : err instanceof ForbiddenException
          ? 'Forbidden'
          : err instanceof ServiceUnavailableException
            ? 'ServiceUnavailable'
            : 'other',
    );
    const res = host.switchToHttp().getResponse();
    const status = (err as { getStatus?: () => number }).getStatus?.() ?? 500;
    const body = (err as { getResponse?: () => unknown }).getResponse?.() ?? {};
    if (typeof res.code === 'function') res.code(status).send(body);
    else res.status(status).json(body);
  }
}

@Controller('exc')
class ExceptionsController {
  @PermissionRequired('nobody:has:this')
  @Get('forbidden')
  forbidden() {
    return {};
  }
}

/** A revocation store that is down: every call fails. */
const brokenStore: RevocationStore = {
  revoke: async () => Promise.reject(new Error('connection refused')),
  isRevoked: async () => Promise.reject(new Error('connection refused')),
  purgeExpired: async () => 0,
};

describe.each(ADAPTERS)("the module's failures are Nest's own exceptions, %s", (adapter) => {
  let app: INestApplication;
  let auth: AuthService;
  let users: MemoryUsers;
  beforeAll(async () => {
    users = await MemoryUsers.create();
    app = await bootApp(
      { jwt: { secret: SECRET }, users, revocation: { consistency: 'strict', store: brokenStore } },
      { adapter, controllers: [...ALL_CONTROLLERS, ExceptionsController], providers: [{ provide: APP_FILTER, useClass: RecordingFilter }] },
    );
    auth = app.get(AuthService);
  });
  afterAll(() => app.close());

  test('401, 403 and 503 from the guard reach an app filter as UnauthorizedException, ForbiddenException, ServiceUnavailableException', async () => {
    seen.length = 0;
    const http = request(app.getHttpServer());
    expect((await http.get('/private')).body.code).toBe('token_missing');
    const token = await auth.createTokenForUser(users.get('alice'));
    const unavailable = await http.get('/private').set(bearer(token));
    expect([unavailable.status, unavailable.body.code]).toEqual([503, 'auth_unavailable']);
    expect(seen).toEqual(['Unauthorized', 'ServiceUnavailable']);
  });

  test('the service throws them too, with the code', async () => {
    const failure = auth.login('alice', 'wrong password');
    await expect(failure).rejects.toBeInstanceOf(UnauthorizedException);
    await expect(auth.login('alice', 'wrong password')).rejects.toMatchObject({ code: 'invalid_credentials' });
    await expect(auth.verifyAccessToken('x.y.z')).rejects.toBeInstanceOf(UnauthorizedException);
  });
});

describe('a 403 is a ForbiddenException', () => {
  test('from the guard, as an app filter sees it', async () => {
    seen.length = 0;
    const users = await MemoryUsers.create();
    const app = await bootApp(
      { jwt: { secret: SECRET }, users },
      { controllers: [ExceptionsController], providers: [{ provide: APP_FILTER, useClass: RecordingFilter }] },
    );
    try {
      const token = await app.get(AuthService).createTokenForUser(users.get('alice'));
      const res = await request(app.getHttpServer()).get('/exc/forbidden').set(bearer(token));
      expect([res.status, res.body.code]).toEqual([403, 'permission_denied']);
      expect(seen).toEqual(['Forbidden']);
    } finally {
      await app.close();
    }
  });
});

describe('login.failed never carries an unknown username as text', () => {
  test('a keyed fingerprint instead, the same for the same text', async () => {
    const events: AuditEvent[] = [];
    const logger = new CapturingLogger();
    const typed = 'my-secret-password-typed-in-the-wrong-field';
    // Nest's logger is process-wide: the app that logs is asked first, then the one with a sink is booted.
    const fail = async (target: INestApplication) => {
      for (const password of ['whatever', 'again']) {
        const res = await request(target.getHttpServer()).post('/auth/login').send({ username: typed, password });
        expect(res.status).toBe(401);
      }
    };
    const app = await bootApp({ jwt: { secret: SECRET }, users: await MemoryUsers.create() }, { controllers: ALL_CONTROLLERS, logger });
    await fail(app);
    await app.close();
    const withSink = await bootApp(
      { jwt: { secret: SECRET }, users: await MemoryUsers.create(), audit: { emit: (e) => void events.push(e) } },
      { controllers: ALL_CONTROLLERS },
    );
    try {
      await fail(withSink);
      expect(logger.text).toContain('login.failed');
      expect(logger.text).not.toContain(typed);
      const failed = events.filter((e) => e.type === 'login.failed');
      expect(failed).toHaveLength(2);
      expect(failed[0].username).toMatch(/^fp:/);
      expect(failed[0].username).toBe(failed[1].username);
      expect(JSON.stringify(events)).not.toContain(typed);
    } finally {
      await withSink.close();
    }
  });
});
