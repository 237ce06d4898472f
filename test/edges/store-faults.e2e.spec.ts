import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Delete, Get, HttpCode, Param, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { InMemoryApiKeyStore } from '../../src/api-keys/api-key.stores.js';
import { ApiKeyService, AuthService, CurrentUser, type AuthPrincipal } from '../../src/index.js';
import { InMemoryRevocationStore, InMemoryUserCutoffStore } from '../../src/revocation/in-memory-revocation.store.js';
import { InMemorySessionStore } from '../../src/sessions/in-memory-session.store.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

type Mode = 'up' | 'fail' | 'hang';

/** A store of the app's own (given through `stores.*`) that can be made to fail or to never answer. */
function switchable<T extends object>(store: T, state: { mode: Mode }): T {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (state.mode === 'fail') return Promise.reject(new Error('connection refused'));
        if (state.mode === 'hang') return new Promise(() => undefined);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

@Controller('faults')
class FaultsController {
  constructor(
    private readonly auth: AuthService,
    private readonly keys: ApiKeyService,
  ) {}

  @Delete('sessions/:id')
  end(@Param('id') id: string) {
    return this.auth.endSession(id);
  }

  @Post('revoke-token')
  @HttpCode(204)
  revoke(@CurrentUser() _user: AuthPrincipal) {
    return this.auth.revokeToken('some-jti');
  }

  @Post('api-key')
  createKey() {
    return this.keys.create({ name: 'k', permissions: ['articles:read'] });
  }

  @Get('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user;
  }
}

describe.each(ADAPTERS)('a store that fails or hangs answers 503 auth_unavailable within the bound, never a 500, %s', (adapter) => {
  let app: INestApplication;
  const state = { mode: 'up' as Mode };
  let apiKey: string;

  beforeAll(async () => {
    app = await bootApp(
      {
        jwt: { secret: SECRET },
        users: await MemoryUsers.create(),
        apiKeys: { enabled: true },
        // strict: every authenticated request asks the stores, so a hang shows on the request itself.
        revocation: { consistency: 'strict', storeTimeoutMs: 200 },
        stores: {
          sessions: switchable(new InMemorySessionStore(), state),
          revocations: switchable(new InMemoryRevocationStore(), state),
          cutoffs: switchable(new InMemoryUserCutoffStore(), state),
          apiKeys: switchable(new InMemoryApiKeyStore(), state),
        },
      },
      { adapter, controllers: [AuthController, FaultsController] },
    );
    const admin = await app.get(ApiKeyService).create({ name: 'probe', permissions: ['articles:read'] });
    apiKey = admin.key;
  });
  afterAll(() => app.close());

  const session = async () => {
    const res = await request(app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
    expect(res.status).toBe(200);
    return res.body as { accessToken: string; refreshToken: string };
  };

  test.each<Mode>(['fail', 'hang'])('store %s: every path answers 503 auth_unavailable', async (mode) => {
    const pair = await session();
    const bearer = { Authorization: `Bearer ${pair.accessToken}` };
    const http = request(app.getHttpServer());
    state.mode = mode;
    try {
      const calls: Array<[string, () => request.Test]> = [
        ['login', () => http.post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice })],
        ['refresh', () => http.post('/auth/refresh').send({ refreshToken: pair.refreshToken })],
        ['logout', () => http.post('/auth/logout').set(bearer)],
        ['revokeAllForUser', () => http.post('/auth/logout-all').set(bearer)],
        ['listSessions', () => http.get('/auth/sessions').set(bearer)],
        ['endSession', () => http.delete('/faults/sessions/x').set(bearer)],
        ['revokeToken', () => http.post('/faults/revoke-token').set(bearer)],
        ['API key', () => http.get('/faults/me').set('x-api-key', apiKey)],
        ['bearer request', () => http.get('/faults/me').set(bearer)],
      ];
      const answers = await Promise.all(calls.map(async ([name, call]) => [name, await call()] as const));
      for (const [name, res] of answers) expect([name, res.status, res.body.code]).toEqual([name, 503, 'auth_unavailable']);
    } finally {
      state.mode = 'up';
    }
    // And back: the same session works again at once.
    expect((await request(app.getHttpServer()).get('/faults/me').set(bearer)).status).toBe(200);
  });
});
