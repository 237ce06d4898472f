import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, test } from '@jest/globals';
import { Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AuditEvent, AuthModuleForRootOptions } from '../../src/index.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { GatedHasher } from '../support/gated-hasher.js';
import { NGINX, startNginx, type Nginx } from '../support/nginx.js';
import { bootTrustingProxy } from '../support/trusted-proxy-app.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

interface Answer {
  status: number;
  body: Record<string, any>;
}

/**
 * One request to nginx from the client address `from`: the client's own X-Forwarded-For, which nginx extends with
 * the peer it saw (127.0.0.1) and the app, trusting the loopback, reads as the client's (every machine has
 * 127.0.0.1 only, so the users are told apart this way).
 */
function send(port: number, agent: Agent, from: string, method: string, path: string, body?: unknown, token?: string): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        agent,
        path,
        method,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'x-forwarded-for': from,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, any>) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const ATTACKER = '198.51.100.2';
const VICTIM = '198.51.100.3';

/** Until `cond` holds, or `ms` have passed (a bound for the test not to hang; nothing is asserted on it). */
const waitFor = async (cond: () => boolean, ms = 5000) => {
  for (let i = 0; i < ms / 10 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

// Skipped only where Debian's nginx is not installed (.ci/run installs it): the proxy under test is a real one.
const describeNginx = NGINX ? describe : describe.skip;
if (!NGINX) console.warn('behind-proxy.e2e: nginx is not installed (/usr/sbin/nginx), the reverse-proxy tests are skipped');

describeNginx.each(ADAPTERS)('the login throttle behind nginx (keep-alive upstream pool) on %s', (adapter) => {
  let app: INestApplication | undefined;
  let nginx: Nginx | undefined;
  const agents: Agent[] = [];
  const agent = () => {
    const a = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(a);
    return a;
  };
  afterEach(async () => {
    for (const a of agents.splice(0)) a.destroy();
    await nginx?.stop();
    await app?.close();
    app = nginx = undefined;
  });

  /**
   * The app, its server-side sockets (whether one is paused is read from them) and the audit events; nginx in front.
   * `pacingMs` is long (seconds): what is asserted is the order of events, never a duration.
   */
  async function setUp(loginThrottle: AuthModuleForRootOptions['loginThrottle'], extra: Partial<AuthModuleForRootOptions> = {}) {
    const events: AuditEvent[] = [];
    app = await bootTrustingProxy(adapter, {
      jwt: { secret: SECRET },
      users: await MemoryUsers.create(),
      audit: { emit: (e: AuditEvent) => void events.push(e) },
      loginThrottle,
      ...extra,
    });
    const sockets: Socket[] = [];
    const server = app.getHttpServer() as Server;
    server.on('connection', (s: Socket) => sockets.push(s));
    nginx = await startNginx((server.address() as AddressInfo).port);
    return { events, sockets, port: nginx.port };
  }

  test("one client's refused login, paced, never holds up another user's request on the proxy's pooled connections", async () => {
    const { events, sockets, port } = await setUp({ perIp: { limit: 1, windowSeconds: 60 }, pacingMs: 4000 });
    const victim = agent();
    const { accessToken } = (await send(port, victim, VICTIM, 'POST', '/auth/login', { username: 'alice', password: PASSWORDS.alice })).body;
    // A few pooled upstream connections, idle, as a proxy in use has them.
    await Promise.all([agent(), agent(), agent()].map((a) => send(port, a, VICTIM, 'GET', '/private', undefined, accessToken)));

    const attacker = agent();
    expect((await send(port, attacker, ATTACKER, 'POST', '/auth/login', { username: 'made-up', password: 'x' })).status).toBe(401);
    let attackerAnswered = false;
    const refused = send(port, attacker, ATTACKER, 'POST', '/auth/login', { username: 'made-up', password: 'y' }).then((a) => {
      attackerAnswered = true;
      return a;
    });
    // The app has refused it (counted per the attacker's forwarded address); then the victim asks, once the refusal
    // has gone out or a moment after it was decided, whichever comes first.
    await waitFor(() => events.some((e) => e.type === 'login.throttled'));
    await waitFor(() => attackerAnswered, 200);
    const stillPaced = () => attackerAnswered === false || sockets.some((s) => s.isPaused());

    const me = await send(port, victim, VICTIM, 'GET', '/private', undefined, accessToken);
    // The victim's answer came while the attacker was still being paced (its refusal held, or its connection
    // paused): the pacing of one client did not make another wait for it.
    const pacedWhenVictimAnswered = stillPaced();
    expect(me.status).toBe(200);
    expect(pacedWhenVictimAnswered).toBe(true);

    const answer = await refused;
    expect(answer).toMatchObject({ status: 429, body: { code: 'too_many_attempts' } });
    expect(events.find((e) => e.type === 'login.throttled')).toMatchObject({ ip: ATTACKER, reason: 'perIp' });
    // The per-IP limit is the attacker's: the victim, through the same proxy, still logs in.
    expect((await send(port, victim, VICTIM, 'POST', '/auth/login', { username: 'bob', password: PASSWORDS.bob })).status).toBe(200);
  });

  test("a failed login held while others wait for a password check never holds up another user's request", async () => {
    const hasher = new GatedHasher();
    const { sockets, port } = await setUp({ passwordChecks: { concurrency: 1, maxQueued: 1 }, pacingMs: 4000 }, { passwordHasher: hasher });
    const victim = agent();
    const { accessToken } = (await send(port, victim, VICTIM, 'POST', '/auth/login', { username: 'alice', password: PASSWORDS.alice })).body;
    await Promise.all([agent(), agent(), agent()].map((a) => send(port, a, VICTIM, 'GET', '/private', undefined, accessToken)));

    hasher.hold();
    let attackerAnswered = false;
    const first = send(port, agent(), ATTACKER, 'POST', '/auth/login', { username: 'made-up', password: 'x' }).then((a) => {
      attackerAnswered = true;
      return a;
    });
    await waitFor(() => hasher.verifies === 2);
    const second = send(port, agent(), ATTACKER, 'POST', '/auth/login', { username: 'made-up-2', password: 'x' });
    // The second waits in the queue behind the first: the first's 401 is then paced. The gate closes again at
    // once behind the first, so the second's check stays in progress.
    await new Promise((r) => setTimeout(r, 100));
    hasher.release();
    hasher.hold();
    await waitFor(() => hasher.verifies === 3);
    await waitFor(() => attackerAnswered, 200);
    const stillPaced = () => attackerAnswered === false || sockets.some((s) => s.isPaused());
    const me = await send(port, victim, VICTIM, 'GET', '/private', undefined, accessToken);
    const pacedWhenVictimAnswered = stillPaced();
    expect(me.status).toBe(200);
    expect(pacedWhenVictimAnswered).toBe(true);
    hasher.release();
    expect((await first).status).toBe(401);
    expect((await second).status).toBe(401);
  });
});
