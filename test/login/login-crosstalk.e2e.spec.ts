import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Controller, HttpCode, Injectable, Post, Sse, type INestApplication, type MessageEvent } from '@nestjs/common';
import { mergeMap, Observable, Subject } from 'rxjs';
import request from 'supertest';
import { AuthService, Public, type AuthModuleForRootOptions } from '../../src/index.js';
import { ADAPTERS, bootApp, SECRET } from '../support/app.js';
import { AuthController } from '../support/controllers.js';
import { setCookiesOf } from '../support/cookies.js';
import { bearer, login } from '../support/http.js';
import { eventually } from '../support/time.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';
import { openSse } from '../isolation/sse-client.js';

/**
 * Issue 21's leftover, issue 24 item 2: `login()` and `refresh(token)` have no caller argument, so they act for
 * the running call; their cookies now go out only on that call's own response. Here a stream's pipeline logs bob
 * in whenever anyone announces a change; the announcement's handler (a class that cannot reach AuthService, with
 * `requestContext: true`) runs that pipeline in its own context and waits for it. Before, bob's session cookies
 * were set on the announcer's response: the announcer's browser was signed in as bob.
 */

/** An app's shared event source, whose publishers wait until every listener has handled the event. */
@Injectable()
class Events {
  readonly changes = new Subject<void>();
  readonly pending = new Set<Promise<unknown>>();
  listeners = 0;

  changes$(): Observable<void> {
    return new Observable<void>((subscriber) => {
      this.listeners++;
      const subscription = this.changes.subscribe(subscriber);
      return () => {
        this.listeners--;
        subscription.unsubscribe();
      };
    });
  }

  async publish(): Promise<void> {
    this.changes.next();
    await Promise.all([...this.pending]);
  }
}

@Controller('kiosk')
class KioskController {
  constructor(
    private readonly auth: AuthService,
    private readonly events: Events,
  ) {}

  /** Logs bob in on every change (a kiosk's display), in the stream's pipeline. */
  @Sse('logins')
  logins(): Observable<MessageEvent> {
    return this.events.changes$().pipe(
      mergeMap(() => {
        const work = this.auth.login('bob', PASSWORDS.bob).then(
          (body) => ({ data: { csrf: 'csrfToken' in body } }),
          (err: unknown) => ({ data: { refused: String(err) } }),
        );
        this.events.pending.add(work);
        void work.finally(() => this.events.pending.delete(work));
        return work;
      }),
    );
  }
}

/** A change announced by a user, in a class that does not reach AuthService. */
@Controller('announce')
class AnnounceController {
  constructor(private readonly events: Events) {}

  @Public()
  @Post()
  @HttpCode(204)
  async announce(): Promise<void> {
    await this.events.publish();
  }
}

describe.each(ADAPTERS)("login() cookies go on the call's own response only (%s)", (adapter) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    app = await bootApp(
      {
        jwt: { secret: SECRET },
        users: await MemoryUsers.create(),
        requestContext: true,
        cookies: { enabled: true, secure: false },
        loginThrottle: false,
      } as AuthModuleForRootOptions,
      { adapter, controllers: [AuthController, KioskController, AnnounceController], providers: [Events] },
    );
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(() => app.close());

  test("a login run by another request's publish sets no cookie on that request's response", async () => {
    const alice = await login(app, 'alice');
    const stream = await openSse(`${url}/kiosk/logins`, bearer(alice.accessToken));
    try {
      const events = app.get(Events);
      await eventually(async () => events.listeners === 1, 'the kiosk stream listening');
      const announced = await request(app.getHttpServer()).post('/announce').set('origin', url);
      expect(announced.status).toBe(204);
      // The login did run (for the kiosk), and its answer reached the stream...
      expect(await stream.next()).toEqual({ csrf: false });
      // ...but none of bob's cookies went to the announcer.
      expect(setCookiesOf(announced)).toEqual([]);
    } finally {
      stream.close();
    }
  });

  test("the handler's own login still sets the cookies", async () => {
    const res = await request(app.getHttpServer())
      .post('/auth/login')
      .set('origin', url)
      .set('sec-fetch-site', 'same-origin')
      .send({ username: 'bob', password: PASSWORDS.bob });
    expect(res.status).toBeLessThan(300);
    expect(setCookiesOf(res).length).toBeGreaterThanOrEqual(3);
    expect(res.body.csrfToken).toEqual(expect.any(String));
  });
});
