import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { AuthModuleForRootOptions } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { bearer, login } from '../support/http.js';
import { sleep } from '../support/time.js';
import { MemoryUsers } from '../support/users.js';
import { openSse, type SseStream } from './sse-client.js';
import { AnnounceController, Bus, StreamController, SuperuserController } from './stream-app.js';

/**
 * Issue 21 item 1: a stream's pipeline runs in the AsyncLocalStorage context of whatever code pushes into it.
 * A superuser's request that pushes into a shared Subject, or the first subscriber of a shared timer, must never
 * lend its session to another user's stream: with the caller passed explicitly (the documented way) each stream
 * acts for its own user; without it, a streaming handler's context refuses (401 token_missing) where the module
 * can tell that the code does not serve its own call. Real SSE read incrementally by node's http client.
 */

const MODES = [
  ['express', 'auto'],
  ['express', true],
  ['fastify', 'auto'],
  ['fastify', true],
] as const satisfies ReadonlyArray<readonly [(typeof ADAPTERS)[number], boolean | 'auto']>;

/** The payload of a JWT, unverified: to see whose token a stream received. */
const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sub: string; sid?: string };

type Delivered = { ok?: any; refused?: string };

describe.each(MODES)('SSE streams (%s, requestContext %s)', (adapter, mode) => {
  let app: INestApplication;
  let url: string;
  let bus: Bus;
  const streams: SseStream[] = [];

  const open = async (path: string, token: string, listeners?: number) => {
    const stream = await openSse(`${url}${path}`, bearer(token));
    streams.push(stream);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toContain('text/event-stream');
    if (listeners !== undefined) for (let i = 0; i < 100 && bus.listeners < listeners; i++) await sleep(20);
    return stream;
  };
  const get = (path: string, token: string) => request(app.getHttpServer()).get(path).set(bearer(token));
  const sessionIds = async (token: string) => ((await get('/auth/sessions', token)).body as { id: string }[]).map((s) => s.id).sort();

  beforeAll(async () => {
    app = await bootApp({ jwt: { secret: SECRET }, users: await MemoryUsers.create(), requestContext: mode } as AuthModuleForRootOptions, {
      adapter,
      controllers: [AuthController, StreamController, AnnounceController, SuperuserController],
      providers: [Bus],
    });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    bus = app.get(Bus);
  });
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    for (let i = 0; i < 100 && bus.listeners > 0; i++) await sleep(20);
  });
  afterAll(() => app.close());

  test("a superuser's request pushing into a shared Subject: the low-privilege stream gets its own pair, never the superuser's", async () => {
    const root = await login(app, 'root');
    const alice = await login(app, 'alice');
    const stream = await open('/stream/tokens', alice.accessToken, 1);

    const pushed = await request(app.getHttpServer()).post('/stream/emit').set(bearer(root.accessToken));
    expect(pushed.status).toBe(204);
    const delivered = (await stream.next()) as Delivered;

    expect(delivered.refused).toBeUndefined();
    const pair = delivered.ok as { accessToken: string; refreshToken: string };
    expect(payloadOf(pair.accessToken)).toMatchObject({ sub: '1', sid: payloadOf(alice.accessToken).sid });
    expect(payloadOf(pair.refreshToken).sub).toBe('1');
    // What the pair can do is alice's: no superuser route.
    expect((await get('/admin', pair.accessToken)).status).toBe(403);
    // The superuser's session was not rotated from under them.
    expect((await get('/admin', root.accessToken)).status).toBe(200);
    const refreshed = await request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: root.refreshToken });
    expect(refreshed.status).toBe(200);
  });

  if (mode === true) {
    // With 'auto' a class that cannot reach AuthService never had a context; with true it has one, and the ambient
    // form must not act in it for code it does not run for its own call.
    test('the ambient form in a stream fed from a class that cannot reach AuthService refuses, and lends no session', async () => {
      const root = await login(app, 'root');
      const alice = await login(app, 'alice');
      const stream = await open('/stream/tokens-ambient', alice.accessToken, 1);

      expect((await request(app.getHttpServer()).post('/announce').set(bearer(root.accessToken))).status).toBe(204);
      const delivered = (await stream.next()) as Delivered;

      expect(delivered).toEqual({ refused: 'token_missing' });
      expect((await get('/admin', root.accessToken)).status).toBe(200);
      const refreshed = await request(app.getHttpServer()).post('/auth/refresh').send({ refreshToken: root.refreshToken });
      expect(refreshed.status).toBe(200);
    });
  }

  test("a shared interval().pipe(share()): each stream lists its own user's sessions, never the first subscriber's", async () => {
    const alice = await login(app, 'alice');
    await login(app, 'alice');
    const bob = await login(app, 'bob');
    const aliceSessions = await sessionIds(alice.accessToken);
    const bobSessions = await sessionIds(bob.accessToken);
    expect(aliceSessions.length).toBeGreaterThanOrEqual(2);

    // Alice subscribes first: the shared timer runs in her stream's context.
    const aliceStream = await open('/stream/sessions', alice.accessToken);
    await aliceStream.next();
    const bobStream = await open('/stream/sessions', bob.accessToken);

    for (let i = 0; i < 3; i++) {
      const forBob = (await bobStream.next()) as Delivered;
      expect(forBob.refused).toBeUndefined();
      const ids = (forBob.ok as { id: string; current: boolean }[]).map((s) => s.id).sort();
      expect(ids).toEqual(bobSessions);
      expect((forBob.ok as { id: string; current: boolean }[]).find((s) => s.current)?.id).toBe(payloadOf(bob.accessToken).sid);
      const forAlice = (await aliceStream.next()) as Delivered;
      expect((forAlice.ok as { id: string }[]).map((s) => s.id).sort()).toEqual(aliceSessions);
    }
  });

  test('a shared interval().pipe(share()) with the ambient form: every stream is refused, none lists anyone', async () => {
    const alice = await login(app, 'alice');
    const bob = await login(app, 'bob');

    const aliceStream = await open('/stream/sessions-ambient', alice.accessToken);
    const bobStream = await open('/stream/sessions-ambient', bob.accessToken);

    const delivered: Delivered[] = [];
    for (let i = 0; i < 3; i++) delivered.push((await aliceStream.next()) as Delivered, (await bobStream.next()) as Delivered);
    for (const d of delivered) expect(d).toEqual({ refused: 'token_missing' });
  });
});
