import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, forwardRef, Get, Inject, Injectable, type INestApplication } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants.js';
import { ModuleRef } from '@nestjs/core';
import request from 'supertest';
import { AuthService, type AuthModuleForRootOptions } from '../../src/index.js';
import { contextStorageEnabled } from '../../src/context/request-context.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/**
 * `requestContext: 'auto'` (the default) enters AsyncLocalStorage only for handlers whose class reaches AuthService
 * through dependency injection. Every way Nest wires a dependency must count as reaching it (else logout() would
 * refuse where it should act); a class that does not reach it runs without the storage, which on Node 20 is what
 * keeps promise hooks off.
 */

/** AuthService obtained outside dependency injection: what 'auto' cannot see. */
let smuggled: AuthService | undefined;

const SESSIONS_ALIAS = 'SESSIONS_ALIAS';
const SESSIONS_FACTORY = 'SESSIONS_FACTORY';

@Injectable()
class Sessions {
  constructor(private readonly auth: AuthService) {
    smuggled = auth;
  }
  list() {
    return this.auth.listSessions();
  }
}

@Injectable()
class OuterSessions {
  constructor(private readonly inner: Sessions) {}
  list() {
    return this.inner.list();
  }
}

async function answer(list: () => Promise<{ id: string }[]>) {
  return { storage: contextStorageEnabled(), sessions: (await list()).length };
}

@Controller('reach')
class ReachController {
  @Inject(OuterSessions) private readonly byProperty!: OuterSessions;

  constructor(
    private readonly outer: OuterSessions,
    @Inject(forwardRef(() => Sessions)) private readonly forwarded: Sessions,
    @Inject(SESSIONS_ALIAS) private readonly alias: Sessions,
    @Inject(SESSIONS_FACTORY) private readonly factory: { list(): Promise<{ id: string }[]> },
  ) {}

  @Get('transitive')
  transitive() {
    return answer(() => this.outer.list());
  }
  @Get('forward-ref')
  forwardRef() {
    return answer(() => this.forwarded.list());
  }
  @Get('alias')
  aliased() {
    return answer(() => this.alias.list());
  }
  @Get('factory')
  fromFactory() {
    return answer(() => this.factory.list());
  }
  @Get('property')
  property() {
    return answer(() => this.byProperty.list());
  }
}

/** Reaches AuthService by ModuleRef at run time: counted as reaching everything. */
@Controller('by-module-ref')
class ModuleRefController {
  constructor(private readonly moduleRef: ModuleRef) {}
  @Get()
  list() {
    return answer(() => this.moduleRef.get(AuthService, { strict: false }).listSessions());
  }
}

/** Injects nothing that reaches AuthService. */
@Controller('plain')
class PlainController {
  @Get()
  plain() {
    return { storage: contextStorageEnabled() };
  }
  @Get('smuggled')
  async smuggledCall() {
    try {
      return { sessions: (await smuggled!.listSessions()).length };
    } catch (err) {
      return { refused: (err as { getResponse(): { code: string } }).getResponse().code };
    }
  }
}

const providers = [
  Sessions,
  OuterSessions,
  { provide: SESSIONS_ALIAS, useExisting: Sessions },
  { provide: SESSIONS_FACTORY, useFactory: (auth: AuthService) => ({ list: () => auth.listSessions() }), inject: [AuthService] },
];

async function boot(adapter: (typeof ADAPTERS)[number], extra: Partial<AuthModuleForRootOptions> = {}) {
  return bootApp(
    { jwt: { secret: SECRET }, users: await MemoryUsers.create(), ...extra },
    { adapter, controllers: [AuthController, ReachController, ModuleRefController, PlainController], providers },
  );
}

async function loginAs(app: INestApplication): Promise<string> {
  const login = await request(app.getHttpServer()).post('/auth/login').send({ username: 'alice', password: PASSWORDS.alice });
  expect(login.status).toBe(200);
  return login.body.accessToken as string;
}

describe.each(ADAPTERS)("requestContext: 'auto' (%s)", (adapter) => {
  let app: INestApplication;
  let token: string;
  beforeAll(async () => {
    app = await boot(adapter);
    token = await loginAs(app);
  });
  afterAll(async () => {
    await app.close();
  });

  test.each(['transitive', 'forward-ref', 'alias', 'factory', 'property'])('a class reaching AuthService by %s runs in the context', async (path) => {
    const res = await request(app.getHttpServer()).get(`/reach/${path}`).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ storage: true, sessions: 1 });
  });

  test('a class that injects ModuleRef counts as reaching AuthService', async () => {
    const res = await request(app.getHttpServer()).get('/by-module-ref').set('Authorization', `Bearer ${token}`);
    expect(res.body).toEqual({ storage: true, sessions: 1 });
  });

  test('a class that does not reach AuthService runs without the storage, and the storage is off between requests', async () => {
    const res = await request(app.getHttpServer()).get('/plain').set('Authorization', `Bearer ${token}`);
    expect(res.body).toEqual({ storage: false });
    await request(app.getHttpServer()).get('/reach/transitive').set('Authorization', `Bearer ${token}`);
    expect(contextStorageEnabled()).toBe(false);
  });

  test('no interceptor of the module on a class that does not reach AuthService (so Nest builds no rxjs chain for it)', () => {
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, PlainController)).toBeUndefined();
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, ReachController)).toHaveLength(1);
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, ModuleRefController)).toHaveLength(1);
  });

  test('AuthService used from such a class outside dependency injection refuses with token_missing, never acts on another request', async () => {
    const res = await request(app.getHttpServer()).get('/plain/smuggled').set('Authorization', `Bearer ${token}`);
    expect(res.body).toEqual({ refused: 'token_missing' });
  });
});

describe('requestContext: true', () => {
  test('every guarded handler runs in the context, whatever its class injects', async () => {
    const app = await boot('express', { requestContext: true } as Partial<AuthModuleForRootOptions>);
    try {
      const token = await loginAs(app);
      const plain = await request(app.getHttpServer()).get('/plain').set('Authorization', `Bearer ${token}`);
      expect(plain.body).toEqual({ storage: true });
      // The context is there, but the ambient form refuses in a class that cannot reach AuthService: code calling it
      // there serves another call (a subscriber this handler fed). The explicit form is the way (test/isolation).
      const smuggledCall = await request(app.getHttpServer()).get('/plain/smuggled').set('Authorization', `Bearer ${token}`);
      expect(smuggledCall.body).toEqual({ refused: 'token_missing' });
    } finally {
      await app.close();
    }
  });
});
