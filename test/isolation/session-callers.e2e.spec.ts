import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, Delete, Get, HttpCode, Param, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ApiKeyService, AuthContext, AuthService, Public, type AuthContextData, type AuthModuleForRootOptions } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bearer, login } from '../support/http.js';
import { sleep } from '../support/time.js';
import { MemoryUsers } from '../support/users.js';
import { settle } from './stream-app.js';

/**
 * Issue 21 item 8: the session methods act for a session only; an API key (or a token without `sid`) is refused
 * as logout() refuses it, in the ambient and in the explicit form. And the explicit form takes only the object the
 * module's guard created for a call: a literal, a copy or an edited field never acts for anyone.
 */

let kept: AuthContextData | undefined;
let later: unknown;

@Controller('callers')
class CallersController {
  constructor(private readonly auth: AuthService) {}

  @Get('sessions')
  sessions() {
    return settle(() => this.auth.listSessions());
  }

  @Get('sessions/explicit')
  sessionsExplicit(@AuthContext() caller: AuthContextData) {
    return settle(() => this.auth.listSessions(caller));
  }

  @Delete('sessions/:id')
  end(@Param('id') id: string) {
    return settle(() => this.auth.endSession(id));
  }

  @Delete('sessions/:id/explicit')
  endExplicit(@Param('id') id: string, @AuthContext() caller: AuthContextData) {
    return settle(() => this.auth.endSession(id, caller));
  }

  @Post('refresh-current')
  @HttpCode(200)
  refreshCurrent() {
    return settle(() => this.auth.refreshCurrentSessionToken());
  }

  @Post('refresh-current/explicit')
  @HttpCode(200)
  refreshCurrentExplicit(@AuthContext() caller: AuthContextData) {
    return settle(() => this.auth.refreshCurrentSessionToken(caller));
  }

  @Post('refresh-current/twice')
  @HttpCode(200)
  async refreshTwice(@AuthContext() caller: AuthContextData) {
    const first = await settle(() => this.auth.refreshCurrentSessionToken(caller));
    const second = await settle(() => this.auth.refreshCurrentSessionToken(caller));
    return { first: 'ok' in first, second };
  }

  @Post('logout')
  @HttpCode(200)
  logout() {
    return settle(() => this.auth.logout());
  }

  @Post('logout/explicit')
  @HttpCode(200)
  logoutExplicit(@AuthContext() caller: AuthContextData) {
    return settle(() => this.auth.logout(caller));
  }

  /** An object literal naming the superuser and a session: what app code could build. */
  @Get('forged')
  forged(@AuthContext() caller: AuthContextData) {
    const literal = { userId: '3', sessionId: 'x', backend: 'jwt', isStaff: true, isSuperuser: true, permissions: [], claims: caller.claims };
    return settle(() => this.auth.listSessions(literal as AuthContextData));
  }

  @Get('copied')
  copied(@AuthContext() caller: AuthContextData) {
    return settle(() => this.auth.listSessions({ ...caller }));
  }

  /** The guard's own object, with its public fields edited: it still acts for the call it was created for. */
  @Get('edited')
  edited(@AuthContext() caller: AuthContextData) {
    caller.userId = '3';
    caller.sessionId = 'someone-else';
    return settle(() => this.auth.listSessions(caller));
  }

  /** What the app sees of the object: the documented fields, no trace of the grant. */
  @Get('shape')
  shape(@AuthContext() caller: AuthContextData) {
    return { keys: Object.keys(caller).sort(), symbols: Object.getOwnPropertySymbols(caller).length, cloned: structuredClone(caller) };
  }

  @Public()
  @Get('guest')
  guest(@AuthContext() caller: AuthContextData | undefined) {
    return settle(() => this.auth.listSessions(caller as AuthContextData));
  }

  /** Keeps the caller for code that runs after the response. */
  @Post('keep')
  @HttpCode(204)
  keep(@AuthContext() caller: AuthContextData) {
    kept = caller;
    later = undefined;
    setTimeout(() => void settle(() => this.auth.listSessions(caller)).then((r) => (later = r)), 50);
    // The ambient form in the same timer finds the response complete.
    setTimeout(() => void settle(() => this.auth.listSessions()).then((r) => (laterAmbient = r)), 50);
  }

  @Public()
  @Get('kept')
  keptSessions() {
    return settle(() => this.auth.listSessions(kept!));
  }
}
let laterAmbient: unknown;

const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sub: string; sid?: string };

describe.each(ADAPTERS)('who the session methods act for (%s)', (adapter) => {
  let app: INestApplication;
  let apiKey: string;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    app = await bootApp({ jwt: { secret: SECRET }, users: await MemoryUsers.create(), apiKeys: { enabled: true } } as AuthModuleForRootOptions, {
      adapter,
      controllers: [AuthController, CallersController],
    });
    apiKey = (await app.get(ApiKeyService).create({ name: 'reports', permissions: ['reports:read'], userId: '1' })).key;
  });
  afterAll(() => app.close());

  test('an API key of a user with sessions is refused by listSessions, endSession and refreshCurrentSessionToken, as by logout', async () => {
    const alice = await login(app, 'alice');
    const sid = payloadOf(alice.accessToken).sid!;
    const key = { 'x-api-key': apiKey };
    const answers = {
      logout: (await http().post('/callers/logout').set(key)).body,
      listSessions: (await http().get('/callers/sessions').set(key)).body,
      endSession: (await http().delete(`/callers/sessions/${sid}`).set(key)).body,
      refreshCurrentSessionToken: (await http().post('/callers/refresh-current').set(key)).body,
      listSessionsExplicit: (await http().get('/callers/sessions/explicit').set(key)).body,
      endSessionExplicit: (await http().delete(`/callers/sessions/${sid}/explicit`).set(key)).body,
      refreshCurrentSessionTokenExplicit: (await http().post('/callers/refresh-current/explicit').set(key)).body,
      logoutExplicit: (await http().post('/callers/logout/explicit').set(key)).body,
    };
    for (const answer of Object.values(answers)) expect(answer).toEqual({ refused: 'token_missing' });
    // Alice's session lived through all of it.
    const own = await http().get('/callers/sessions').set(bearer(alice.accessToken));
    expect((own.body.ok as { id: string }[]).map((s) => s.id)).toContain(sid);
  });

  test('the refusal reaches an HTTP client as logout() refusal does: 401 token_missing', async () => {
    const answers = await Promise.all([
      http().post('/auth/logout').set('x-api-key', apiKey),
      http().get('/auth/sessions').set('x-api-key', apiKey),
      http().post('/auth/refresh-current').set('x-api-key', apiKey),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'token_missing' });
    }
    expect(answers[1].body).toEqual(answers[0].body);
    expect(answers[2].body).toEqual(answers[0].body);
  });

  test('a token without a session (createTokenForUser) is refused too', async () => {
    const token = await app.get(AuthService).createTokenForUser((await MemoryUsers.create()).get('alice'));
    for (const res of [
      await http().get('/callers/sessions').set(bearer(token)),
      await http().delete('/callers/sessions/whatever').set(bearer(token)),
      await http().post('/callers/refresh-current').set(bearer(token)),
      await http().get('/callers/sessions/explicit').set(bearer(token)),
    ]) {
      expect(res.body).toEqual({ refused: 'token_missing' });
    }
  });

  test("the explicit form acts for the guard's object only: a literal, a copy or a guest's undefined are refused", async () => {
    const root = await login(app, 'root');
    const alice = await login(app, 'alice');
    expect((await http().get('/callers/forged').set(bearer(alice.accessToken))).body).toEqual({ refused: 'token_missing' });
    expect((await http().get('/callers/copied').set(bearer(alice.accessToken))).body).toEqual({ refused: 'token_missing' });
    expect((await http().get('/callers/guest')).body).toEqual({ refused: 'token_missing' });
    // Edited fields change nothing: the guard's grant says alice, this session.
    const edited = (await http().get('/callers/edited').set(bearer(alice.accessToken))).body as { ok: { id: string; current: boolean }[] };
    expect(edited.ok.find((s) => s.current)?.id).toBe(payloadOf(alice.accessToken).sid);
    expect(edited.ok.map((s) => s.id)).not.toContain(payloadOf(root.accessToken).sid);
  });

  test('refreshCurrentSessionToken(caller) reissues once: it retires the access token the caller came with', async () => {
    const alice = await login(app, 'alice');
    const res = await http().post('/callers/refresh-current/twice').set(bearer(alice.accessToken));
    expect(res.body).toEqual({ first: true, second: { refused: 'token_revoked' } });
  });

  test('the grant leaves no trace on the object the app sees', async () => {
    const alice = await login(app, 'alice');
    const res = await http().get('/callers/shape').set(bearer(alice.accessToken));
    expect(res.body.keys).toEqual(['backend', 'claims', 'isStaff', 'isSuperuser', 'permissions', 'sessionId', 'userId', 'username']);
    expect(res.body.symbols).toBe(0);
    expect(res.body.cloned).toMatchObject({ userId: '1', backend: 'jwt' });
  });

  test('the explicit form acts in the handler itself, rotating and ending exactly its caller', async () => {
    const alice = await login(app, 'alice');
    const other = await login(app, 'alice');
    const rotated = (await http().post('/callers/refresh-current/explicit').set(bearer(alice.accessToken))).body as { ok: { accessToken: string } };
    expect(payloadOf(rotated.ok.accessToken)).toMatchObject({ sub: '1', sid: payloadOf(alice.accessToken).sid });
    const ended = await http()
      .delete(`/callers/sessions/${payloadOf(other.accessToken).sid}/explicit`)
      .set(bearer(rotated.ok.accessToken));
    expect(ended.body).toEqual({ ok: true });
    expect((await http().get('/callers/sessions').set(bearer(other.accessToken))).status).toBe(401);
  });

  test('after the response: the explicit form works while its token is accepted, then is refused; the ambient form is refused', async () => {
    const alice = await login(app, 'alice');
    expect((await http().post('/callers/keep').set(bearer(alice.accessToken))).status).toBe(204);
    for (let i = 0; i < 100 && (later === undefined || laterAmbient === undefined); i++) await sleep(20);
    expect((later as { ok: { id: string; current: boolean }[] }).ok.find((s) => s.current)?.id).toBe(payloadOf(alice.accessToken).sid);
    expect(laterAmbient).toEqual({ refused: 'token_missing' });

    // Logged out: the kept caller's token is revoked, and so is what it can do.
    expect((await http().post('/callers/logout/explicit').set(bearer(alice.accessToken))).body).toEqual({ ok: undefined });
    expect((await http().get('/callers/kept')).body).toEqual({ refused: 'token_revoked' });
  });
});
