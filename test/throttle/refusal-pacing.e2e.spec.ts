import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Agent, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AuthUserRecord } from '../../src/index.js';
import { LoginService } from '../../src/login/login.service.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import type { ThrottledAuthOptions } from '../support/throttle-app.js';
import { bootTrustingProxy } from '../support/trusted-proxy-app.js';
import { GatedHasher } from '../support/gated-hasher.js';
import { rawLogin as login, type Answer } from '../support/raw-login.js';
import { MemoryUsers, PASSWORDS, withUsersHasher } from '../support/users.js';

const PACING_MS = 400;
/** The pause is jittered between half of pacingMs and all of it: half is the module's guaranteed lower bound. */
const AT_LEAST_MS = PACING_MS / 2 - 5;

const portOf = (app: INestApplication) => ((app.getHttpServer() as Server).address() as AddressInfo).port;

/** The server's side of every connection: whether the module paused one is read from it, not from a clock. */
function serverSockets(app: INestApplication): Socket[] {
  const sockets: Socket[] = [];
  (app.getHttpServer() as Server).on('connection', (s: Socket) => sockets.push(s));
  return sockets;
}

/** Answers the module holds right now. */
const holding = (app: INestApplication) => app.get(LoginService).pacing.holding;
const queued = (app: INestApplication) => (app.get(LoginService).checks as unknown as { queue: { queued: number } }).queue.queued;

/** Counts user lookups: a refusal that needs none must make none. */
class CountingUsers extends MemoryUsers {
  lookups = 0;
  override async findByUsername(username: string): Promise<AuthUserRecord | null> {
    this.lookups++;
    return super.findByUsername(username);
  }
}

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

async function boot(
  adapter: (typeof ADAPTERS)[number],
  loginThrottle: ThrottledAuthOptions['loginThrottle'],
  extra: Partial<ThrottledAuthOptions> = {},
) {
  // Trusting the loopback as its proxy: a test client names the address it stands for in X-Forwarded-For.
  return bootTrustingProxy(adapter, { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle, ...extra });
}

describe.each(ADAPTERS)('pacing of refused clients on %s', (adapter) => {
  let app: INestApplication | undefined;
  let agent: Agent | undefined;
  afterEach(async () => {
    agent?.destroy();
    await app?.close();
    app = agent = undefined;
  });

  test('a 429 is held before it goes out (its socket not read meanwhile), unchanged; the connection is read again at once after it', async () => {
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs: PACING_MS });
    const sockets = serverSockets(app);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = portOf(app);
    expect((await login(port, agent, 'alice', 'wrong')).status).toBe(401);
    const pending = login(port, agent, 'alice', PASSWORDS.alice);
    await waitFor(() => holding(app!) === 1);
    // Held: the answer has not gone out, and the client's connection is not read (pipelined requests wait).
    expect(sockets).toHaveLength(1);
    expect(sockets[0].isPaused()).toBe(true);
    const refused = await pending;
    expect(refused).toMatchObject({ status: 429, body: { statusCode: 429, code: 'too_many_attempts' }, retryAfter: expect.any(String) });
    // The module's own timer (a lower bound, not a speed).
    expect(refused.at - refused.sentAt).toBeGreaterThanOrEqual(AT_LEAST_MS);
    // After the answer nothing of the connection is paused: behind a proxy it carries other users next.
    expect(sockets[0].isPaused()).toBe(false);
    expect(holding(app)).toBe(0);
    const again = await login(port, agent, 'nobody', 'x');
    expect(again.reusedSocket).toBe(true);
    // The same answer for an unknown username.
    expect(again).toMatchObject({ status: 429, body: refused.body, retryAfter: refused.retryAfter });
  });

  test('pacingMs: false holds nothing and pauses nothing', async () => {
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs: false });
    const sockets = serverSockets(app);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = portOf(app);
    await login(port, agent, 'alice', 'wrong');
    for (let i = 0; i < 2; i++) {
      let answered = false;
      let held = 0;
      const refusal = login(port, agent, 'alice', 'wrong').then((x) => ((answered = true), x));
      // Looked at on every turn of the event loop while the refusal is in flight.
      while (!answered) {
        held = Math.max(held, holding(app));
        await new Promise((r) => setImmediate(r));
      }
      expect(held).toBe(0);
      expect(await refusal).toMatchObject({ status: 429, reusedSocket: true });
    }
    expect(sockets).toHaveLength(1);
    expect(sockets[0].isPaused()).toBe(false);
  });

  test('a full password-check queue is 503 auth_busy with no user lookup, held before it goes out', async () => {
    const hasher = new GatedHasher();
    const users = await CountingUsers.create();
    app = await boot(adapter, { passwordChecks: { concurrency: 1, maxQueued: 0 }, pacingMs: PACING_MS }, { users, passwordHasher: hasher });
    const port = portOf(app);
    hasher.hold();
    const first = login(port, new Agent({ keepAlive: false }), 'alice', 'wrong');
    try {
      await waitFor(() => hasher.verifies === 1);
      const lookups = users.lookups;
      agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const busy = await login(port, agent, 'alice', PASSWORDS.alice, '198.51.100.2');
      expect(busy).toMatchObject({ status: 503, body: { statusCode: 503, code: 'auth_busy' }, retryAfter: '1' });
      expect(busy.at - busy.sentAt).toBeGreaterThanOrEqual(AT_LEAST_MS);
      const again = await login(port, agent, 'nobody', 'x', '198.51.100.2');
      // The second refusal in a row of that client: told to wait twice as long (see the backoff test).
      expect(again).toMatchObject({ status: 503, body: busy.body, retryAfter: '2', reusedSocket: true });
      expect(again.at - again.sentAt).toBeGreaterThanOrEqual(AT_LEAST_MS);
      // Refused before the lookup, before hashing.
      expect(users.lookups).toBe(lookups);
      expect(hasher.verifies).toBe(1);
    } finally {
      hasher.release();
    }
    expect((await first).status).toBe(401);
  });

  test('a client that re-sends at once after each refusal is held twice as long each time, up to 8×, on any connection it opens; told so in Retry-After when busy; a successful login starts it over', async () => {
    const pacingMs = 100;
    const hasher = new GatedHasher();
    app = await boot(adapter, { passwordChecks: { concurrency: 1, maxQueued: 0 }, pacingMs }, { passwordHasher: hasher });
    const port = portOf(app);
    const holdTheSlot = async () => {
      hasher.hold();
      const before = hasher.verifies;
      const held = login(port, new Agent({ keepAlive: false }), 'bob', 'wrong');
      await waitFor(() => hasher.verifies === before + 1);
      // Wrapped: an async function returning the promise itself would wait for it.
      return { held };
    };
    let { held } = await holdTheSlot();
    const answers: Answer[] = [];
    try {
      // An impolite client: the next request goes out the moment the refusal is read, on a new connection each
      // time (a client is its address, not its connection).
      for (let i = 0; i < 5; i++) answers.push(await login(port, new Agent({ keepAlive: false }), 'alice', PASSWORDS.alice, '198.51.100.2'));
    } finally {
      hasher.release();
    }
    expect((await held).status).toBe(401);
    expect(answers.map((a) => [a.status, a.retryAfter, a.reusedSocket])).toEqual([
      [503, '1', false],
      [503, '2', false],
      [503, '4', false],
      [503, '8', false],
      [503, '8', false],
    ]);
    // Each hold at least half of pacingMs × 1, 2, 4, 8, 8 (the module's own timer: a lower bound, not a speed).
    [1, 2, 4, 8, 8].forEach((factor, i) => expect(answers[i].at - answers[i].sentAt).toBeGreaterThanOrEqual((pacingMs * factor) / 2 - 5));

    // Another address is another client: its first refusal is 1.
    ({ held } = await holdTheSlot());
    try {
      expect(await login(port, new Agent({ keepAlive: false }), 'alice', PASSWORDS.alice, '198.51.100.3')).toMatchObject({
        status: 503,
        retryAfter: '1',
      });
    } finally {
      hasher.release();
    }
    await held;
    // A login of that client that succeeds: its next refusal starts from 1 again.
    expect(await login(port, new Agent({ keepAlive: false }), 'alice', PASSWORDS.alice, '198.51.100.2')).toMatchObject({ status: 200 });
    ({ held } = await holdTheSlot());
    try {
      expect(await login(port, new Agent({ keepAlive: false }), 'alice', PASSWORDS.alice, '198.51.100.2')).toMatchObject({
        status: 503,
        retryAfter: '1',
      });
    } finally {
      hasher.release();
    }
    await held;
  });

  test('a client that waits out each Retry-After is never backed off: the busy answer stays Retry-After 1 until it re-sends early', async () => {
    const hasher = new GatedHasher();
    app = await boot(adapter, { passwordChecks: { concurrency: 1, maxQueued: 0 }, pacingMs: 100 }, { passwordHasher: hasher });
    const port = portOf(app);
    hasher.hold();
    const held = login(port, new Agent({ keepAlive: false }), 'bob', 'wrong');
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const retryAfters: Array<string | undefined> = [];
    try {
      await waitFor(() => hasher.verifies === 1);
      for (let i = 0; i < 3; i++) {
        const answer = await login(port, agent, 'alice', PASSWORDS.alice, '198.51.100.2');
        expect(answer.status).toBe(503);
        retryAfters.push(answer.retryAfter);
        // As told: Retry-After seconds after the answer.
        await new Promise((r) => setTimeout(r, Number(answer.retryAfter) * 1000 + 20));
      }
      // Then at once, twice: the first still on time (after the last wait), the second early, so backed off.
      for (let i = 0; i < 2; i++) retryAfters.push((await login(port, agent, 'alice', PASSWORDS.alice, '198.51.100.2')).retryAfter);
    } finally {
      hasher.release();
    }
    await held;
    expect(retryAfters).toEqual(['1', '1', '1', '1', '2']);
  });

  test('a failed login whose freed place went to a waiting one is held before its 401 goes out; the last one, with no one behind it, is not', async () => {
    const hasher = new GatedHasher();
    // Long: nobody's own password check runs while alice's answer is held, on a loaded machine too.
    const pacingMs = 4000;
    app = await boot(adapter, { passwordChecks: { concurrency: 1, maxQueued: 1 }, pacingMs }, { passwordHasher: hasher });
    const sockets = serverSockets(app);
    const port = portOf(app);
    const first = new Agent({ keepAlive: true, maxSockets: 1 });
    const second = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      hasher.hold();
      const a = login(port, first, 'alice', 'wrong');
      await waitFor(() => hasher.verifies === 1);
      let bAnswered = false;
      const b = login(port, second, 'nobody', 'wrong').then((x) => ((bAnswered = true), x));
      await waitFor(() => sockets.length === 2);
      // nobody's check waits in the queue (not merely connected) before alice's is let go: else her place goes to no one.
      await waitFor(() => queued(app!) === 1);
      hasher.release();
      // nobody's check ends with no one behind it: its 401 goes out while alice's (freed place taken) is held.
      expect((await b).status).toBe(401);
      expect(holding(app)).toBe(1);
      const answerA = await a;
      expect(bAnswered).toBe(true);
      expect(answerA.status).toBe(401);
      expect(answerA.at - answerA.sentAt).toBeGreaterThanOrEqual(pacingMs / 2 - 5);
      expect(sockets.map((s) => s.isPaused())).toEqual([false, false]);
    } finally {
      hasher.release();
      first.destroy();
      second.destroy();
    }
  });

  test('429s of one client are held longer each time in a row, with the Retry-After of the counter unchanged', async () => {
    const pacingMs = 100;
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs });
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = portOf(app);
    expect((await login(port, agent, 'alice', 'wrong')).status).toBe(401);
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await login(port, agent, 'alice', 'wrong'));
    expect(answers.map((a) => a.status)).toEqual([429, 429, 429, 429, 429]);
    for (const a of answers) expect(Number(a.retryAfter)).toBeGreaterThan(50);
    [1, 2, 4, 8, 8].forEach((factor, i) => expect(answers[i].at - answers[i].sentAt).toBeGreaterThanOrEqual((pacingMs * factor) / 2 - 5));
  });

  test('a held refusal delays no other request: another client on its own connection is answered while it is held', async () => {
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs: 10_000 });
    const port = portOf(app);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await login(port, agent, 'alice', 'wrong', '198.51.100.2')).status).toBe(401);
    let refusedAnswered = false;
    const refused = login(port, agent, 'alice', 'wrong', '198.51.100.2').then((x) => ((refusedAnswered = true), x));
    await waitFor(() => holding(app!) === 1);
    const other = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // bob, from elsewhere: a 401 for a wrong password, answered while the refusal is still held.
      expect((await login(port, other, 'bob', 'wrong', '198.51.100.3')).status).toBe(401);
      expect(refusedAnswered).toBe(false);
      expect(holding(app)).toBe(1);
    } finally {
      other.destroy();
    }
    // The client gives up; closing the app answers what is held at once.
    agent.destroy();
    await app.close();
    app = undefined;
    await refused.catch(() => undefined);
  });
});

describe('pacing over HTTP/2 (Fastify, one session for two users, as a proxy speaking h2 to the app has)', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  test('a refusal is held on its own stream; another stream of the session is answered meanwhile', async () => {
    const { connect } = await import('node:http2');
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const { Test } = await import('@nestjs/testing');
    const { AuthModule } = await import('../../src/index.js');
    const moduleRef = await Test.createTestingModule({
      imports: [
        AuthModule.forRoot(
          withUsersHasher({
            jwt: { secret: SECRET },
            users: await MemoryUsers.create(),
            loginThrottle: { perAccountAndIp: { limit: 1, windowSeconds: 60 }, pacingMs: 10_000 },
          }),
        ),
      ],
      controllers: ALL_CONTROLLERS,
    }).compile();
    app = moduleRef.createNestApplication(new FastifyAdapter({ http2: true } as never));
    app.useLogger(false);
    await app.listen(0, '127.0.0.1');
    const session = connect(`http://127.0.0.1:${portOf(app)}`);
    const call = (method: string, path: string, body?: unknown, token?: string) =>
      new Promise<{ status: number; body: Record<string, any> }>((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const stream = session.request({
          ':method': method,
          ':path': path,
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        });
        let status = 0;
        let text = '';
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (text += d));
        stream.on('end', () => resolve({ status, body: text ? JSON.parse(text) : {} }));
        stream.on('error', reject);
        stream.end(payload);
      });
    try {
      const { accessToken } = (await call('POST', '/auth/login', { username: 'bob', password: PASSWORDS.bob })).body;
      expect((await call('POST', '/auth/login', { username: 'alice', password: 'wrong' })).status).toBe(401);
      let refusedAnswered = false;
      const refused = call('POST', '/auth/login', { username: 'alice', password: 'wrong' }).then((x) => ((refusedAnswered = true), x));
      await waitFor(() => holding(app!) === 1);
      // bob's request on the same HTTP/2 connection is answered while alice's refusal is held.
      expect((await call('GET', '/private', undefined, accessToken)).status).toBe(200);
      expect(refusedAnswered).toBe(false);
      expect(holding(app)).toBe(1);
      // Closing the app answers what is held at once.
      const closing = app.close();
      app = undefined;
      expect(await refused).toMatchObject({ status: 429, body: { code: 'too_many_attempts' } });
      session.close();
      await closing;
    } finally {
      session.destroy();
    }
  });
});
