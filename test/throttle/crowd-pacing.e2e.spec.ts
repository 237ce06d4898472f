import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoginService } from '../../src/login/login.service.js';
import { ADAPTERS, SECRET } from '../support/app.js';
import { GatedHasher } from '../support/gated-hasher.js';
import { rawLogin, type Answer } from '../support/raw-login.js';
import { eventually } from '../support/time.js';
import { bootTrustingProxy } from '../support/trusted-proxy-app.js';
import { MemoryUsers, PASSWORDS } from '../support/users.js';

/**
 * A flood from many addresses (#21): no address re-sends early, so no per-address backoff applies; the number of
 * answers held at once is what shows it. With one password check and no waiting place the crowd is 8 held answers
 * (at least 8; 4 × the queue's places otherwise): from there every new hold, and a busy answer's Retry-After,
 * doubles, and it is back to 1 once the crowd is gone.
 */
const PACING_MS = 1000;

describe.each(ADAPTERS)('pacing a crowd of refused addresses on %s', (adapter) => {
  let app: INestApplication | undefined;
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) a.destroy();
    await app?.close();
    app = undefined;
  });

  test('beyond 8 held answers a refusal from a new address is held twice as long and told Retry-After 2; after the crowd, 1 again', async () => {
    const hasher = new GatedHasher();
    app = await bootTrustingProxy(adapter, {
      jwt: { secret: SECRET },
      users: await MemoryUsers.create(),
      passwordHasher: hasher,
      loginThrottle: { passwordChecks: { concurrency: 1, maxQueued: 0 }, pacingMs: PACING_MS, perIp: false },
    } as never);
    const port = ((app.getHttpServer() as Server).address() as AddressInfo).port;
    const pacing = app.get(LoginService).pacing;
    const from = (n: number) => {
      const agent = new Agent({ keepAlive: false });
      agents.push(agent);
      return rawLogin(port, agent, 'alice', PASSWORDS.alice, `198.51.100.${n}`);
    };

    hasher.hold();
    const slot = from(1); // takes the one password check and waits at the gate
    await eventually(async () => hasher.verifies === 1, 'the first check at the gate');
    // Eight addresses, one refusal each (none early): each is a first refusal, below the crowd.
    const crowd = [2, 3, 4, 5, 6, 7, 8, 9].map(from);
    await eventually(async () => pacing.holding === 8, 'eight refusals held');
    // The ninth address, while the eight are held: a crowd's refusal.
    const ninth = await from(10);
    const first = await Promise.all(crowd);
    hasher.release();
    expect((await slot).status).toBe(200); // alice's own password, checked once the gate opened

    expect(first.map((a) => [a.status, a.retryAfter])).toEqual(Array(8).fill([503, '1']));
    expect([ninth.status, ninth.body.code, ninth.retryAfter]).toEqual([503, 'auth_busy', '2']);
    // Held between half of 2 × pacingMs and all of it (the module's timer: a lower bound, not a speed).
    expect(ninth.at - ninth.sentAt).toBeGreaterThanOrEqual(PACING_MS - 5);

    // The crowd has gone: a new address's refusal is a first one again.
    await eventually(async () => pacing.holding === 0, 'every held answer gone');
    hasher.hold();
    const again = from(11);
    await eventually(async () => hasher.verifies === 2, 'the next check at the gate');
    const alone: Answer = await from(12);
    hasher.release();
    await again;
    expect([alone.status, alone.retryAfter]).toEqual([503, '1']);
  });
});
