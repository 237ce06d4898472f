import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AuthUserRecord } from '../../src/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';
import { bootThrottledApp, type ThrottledAuthOptions } from '../support/throttle-app.js';
import { GatedHasher } from '../support/gated-hasher.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

const PACING_MS = 400;
/** The pause is jittered between half of pacingMs and all of it: half is the module's guaranteed lower bound. */
const AT_LEAST_MS = PACING_MS / 2 - 5;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | undefined;
  reusedSocket: boolean;
  /** When the answer was complete (performance.now()). */
  at: number;
}

/** One login over `agent` (keep-alive, one socket: every call after the first reuses the same connection). */
function login(port: number, agent: Agent, username: string, password: string): Promise<Answer> {
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        agent,
        path: '/auth/login',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text) as Record<string, unknown>,
            retryAfter: res.headers['retry-after'] as string | undefined,
            reusedSocket: req.reusedSocket,
            at: performance.now(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const portOf = (app: INestApplication) => ((app.getHttpServer() as Server).address() as AddressInfo).port;

/** The server's side of every connection: whether the module paused one is read from it, not from a clock. */
function serverSockets(app: INestApplication): Socket[] {
  const sockets: Socket[] = [];
  (app.getHttpServer() as Server).on('connection', (s: Socket) => sockets.push(s));
  return sockets;
}

/** Past the module's setImmediate after the answer (a pause would be in place by then). */
const settled = () => new Promise((r) => setTimeout(r, 30));

/** Counts user lookups: a refusal that needs none must make none. */
class CountingUsers extends MemoryUsers {
  lookups = 0;
  static async make(): Promise<CountingUsers> {
    const base = await MemoryUsers.create();
    const users = new CountingUsers();
    for (const [id, u] of base.byId) users.byId.set(id, u);
    return users;
  }
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
  const app = await bootThrottledApp(
    { jwt: { secret: SECRET }, users: await MemoryUsers.create(), loginThrottle, ...extra },
    { controllers: ALL_CONTROLLERS, adapter },
  );
  await app.listen(0, '127.0.0.1');
  return app;
}

describe.each(ADAPTERS)('pacing of refused connections on %s', (adapter) => {
  let app: INestApplication | undefined;
  let agent: Agent | undefined;
  afterEach(async () => {
    agent?.destroy();
    await app?.close();
    app = agent = undefined;
  });

  test('after a 429 the answer is unchanged, and the next request on that keep-alive connection is not read before half of pacingMs', async () => {
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs: PACING_MS });
    const sockets = serverSockets(app);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = portOf(app);
    expect((await login(port, agent, 'alice', 'wrong')).status).toBe(401);
    await settled();
    expect(sockets[0].isPaused()).toBe(false);
    const refused = await login(port, agent, 'alice', PASSWORDS.alice);
    expect(refused).toMatchObject({ status: 429, body: { statusCode: 429, code: 'too_many_attempts' }, retryAfter: expect.any(String) });
    await settled();
    expect(sockets[0].isPaused()).toBe(true);
    const again = await login(port, agent, 'nobody', 'x');
    expect(again.reusedSocket).toBe(true);
    // The same answer for an unknown username, and it waited for the module's own timer (a lower bound, not a speed).
    expect(again).toMatchObject({ status: 429, body: refused.body, retryAfter: refused.retryAfter });
    expect(again.at - refused.at).toBeGreaterThanOrEqual(AT_LEAST_MS);
  });

  test('pacingMs: false leaves the connection read as usual', async () => {
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs: false });
    const sockets = serverSockets(app);
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = portOf(app);
    await login(port, agent, 'alice', 'wrong');
    expect((await login(port, agent, 'alice', 'wrong')).status).toBe(429);
    await settled();
    expect(sockets).toHaveLength(1);
    expect(sockets[0].isPaused()).toBe(false);
    expect(await login(port, agent, 'alice', 'wrong')).toMatchObject({ status: 429, reusedSocket: true });
  });

  test('a full password-check queue is 503 auth_busy at once, with no user lookup, and paces that connection', async () => {
    const hasher = new GatedHasher();
    const users = await CountingUsers.make();
    app = await boot(adapter, { passwordChecks: { concurrency: 1, maxQueued: 0 }, pacingMs: PACING_MS }, { users, passwordHasher: hasher });
    const port = portOf(app);
    hasher.hold();
    const first = login(port, new Agent({ keepAlive: false }), 'alice', 'wrong');
    try {
      await waitFor(() => hasher.verifies === 1);
      const lookups = users.lookups;
      agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const busy = await login(port, agent, 'alice', PASSWORDS.alice);
      expect(busy).toMatchObject({ status: 503, body: { statusCode: 503, code: 'auth_busy' }, retryAfter: '1' });
      const again = await login(port, agent, 'nobody', 'x');
      // The second refusal in a row on that connection: told to wait twice as long (see the backoff test).
      expect(again).toMatchObject({ status: 503, body: busy.body, retryAfter: '2', reusedSocket: true });
      expect(again.at - busy.at).toBeGreaterThanOrEqual(AT_LEAST_MS);
      // Refused before the lookup, before hashing.
      expect(users.lookups).toBe(lookups);
      expect(hasher.verifies).toBe(1);
    } finally {
      hasher.release();
    }
    expect((await first).status).toBe(401);
  });

  test('a connection that re-sends at once after each refusal is held twice as long each time, up to 8×, told so in Retry-After when busy; a login that gets past starts it over', async () => {
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
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answers: Answer[] = [];
    try {
      // An impolite client: the next request goes out the moment the refusal is read.
      for (let i = 0; i < 5; i++) answers.push(await login(port, agent, 'alice', PASSWORDS.alice));
    } finally {
      hasher.release();
    }
    expect((await held).status).toBe(401);
    expect(answers.map((a) => [a.status, a.retryAfter, a.reusedSocket])).toEqual([
      [503, '1', false],
      [503, '2', true],
      [503, '4', true],
      [503, '8', true],
      [503, '8', true],
    ]);
    // Each pause at least half of pacingMs × 1, 2, 4, 8 (the module's own timer: a lower bound, not a speed).
    [1, 2, 4, 8].forEach((factor, i) => expect(answers[i + 1].at - answers[i].at).toBeGreaterThanOrEqual((pacingMs * factor) / 2 - 5));

    // A login on that connection gets past the queue (a 401 here): its next refusal starts from 1 again.
    expect(await login(port, agent, 'alice', 'wrong')).toMatchObject({ status: 401, reusedSocket: true });
    ({ held } = await holdTheSlot());
    try {
      expect(await login(port, agent, 'alice', PASSWORDS.alice)).toMatchObject({ status: 503, retryAfter: '1', reusedSocket: true });
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
        const answer = await login(port, agent, 'alice', PASSWORDS.alice);
        expect(answer.status).toBe(503);
        retryAfters.push(answer.retryAfter);
        // As told: Retry-After seconds after the answer, on the same connection.
        await new Promise((r) => setTimeout(r, Number(answer.retryAfter) * 1000 + 20));
      }
      // Then at once, twice: the first still on time (after the last wait), the second early, so backed off.
      for (let i = 0; i < 2; i++) retryAfters.push((await login(port, agent, 'alice', PASSWORDS.alice)).retryAfter);
    } finally {
      hasher.release();
    }
    await held;
    expect(retryAfters).toEqual(['1', '1', '1', '1', '2']);
  });

  test('a failed login whose freed place went to a waiting one paces its connection; the last one, with no one behind it, is not paced', async () => {
    const hasher = new GatedHasher();
    app = await boot(adapter, { passwordChecks: { concurrency: 1, maxQueued: 1 }, pacingMs: PACING_MS }, { passwordHasher: hasher });
    const sockets = serverSockets(app);
    const port = portOf(app);
    const first = new Agent({ keepAlive: true, maxSockets: 1 });
    const second = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      hasher.hold();
      const a = login(port, first, 'alice', 'wrong');
      await waitFor(() => hasher.verifies === 1);
      const b = login(port, second, 'nobody', 'wrong');
      await waitFor(() => sockets.length === 2);
      await new Promise((r) => setTimeout(r, 50));
      hasher.release();
      const [answerA, answerB] = await Promise.all([a, b]);
      expect([answerA.status, answerB.status]).toEqual([401, 401]);
      await settled();
      // alice's check ended with nobody's waiting: her connection is paced; nobody's ended with no one behind.
      expect(sockets.map((s) => s.isPaused())).toEqual([true, false]);
      const again = await login(port, first, 'alice', 'wrong');
      expect(again).toMatchObject({ status: 401, reusedSocket: true });
      expect(again.at - answerA.at).toBeGreaterThanOrEqual(AT_LEAST_MS);
    } finally {
      hasher.release();
      first.destroy();
      second.destroy();
    }
  });

  test('429s on one connection are paced longer each time in a row, with the Retry-After of the counter unchanged', async () => {
    const pacingMs = 100;
    app = await boot(adapter, { perIp: { limit: 1, windowSeconds: 60 }, pacingMs });
    agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const port = portOf(app);
    expect((await login(port, agent, 'alice', 'wrong')).status).toBe(401);
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await login(port, agent, 'alice', 'wrong'));
    expect(answers.map((a) => a.status)).toEqual([429, 429, 429, 429, 429]);
    for (const a of answers) expect(Number(a.retryAfter)).toBeGreaterThan(50);
    [1, 2, 4, 8].forEach((factor, i) => expect(answers[i + 1].at - answers[i].at).toBeGreaterThanOrEqual((pacingMs * factor) / 2 - 5));
  });
});
