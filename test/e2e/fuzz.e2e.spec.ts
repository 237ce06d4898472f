// Property: whatever arrives in the Authorization header, a private route
// answers 401 with a code, never anything else and never a 500.
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthService } from '../../src/index.js';
import { bootApp, SECRET } from '../support/app.js';
import { ALL_CONTROLLERS } from '../support/controllers.js';

const RUNS = 10_000;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function get(port: number, authorization: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/private', agent, headers: { authorization } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('fuzzing the Authorization header', () => {
  let app: INestApplication;
  let port: number;
  let valid: string;

  beforeAll(async () => {
    app = await bootApp({ jwt: { secret: SECRET } }, { controllers: ALL_CONTROLLERS });
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as AddressInfo).port;
    valid = await app.get(AuthService).createToken({ sub: 'fuzz' });
  });
  afterAll(async () => {
    agent.destroy();
    await app.close();
  });

  test(`${RUNS} random header values and token strings: always 401 with a code`, async () => {
    // Header values as HTTP allows them: visible ASCII, space and tab (Node refuses CR/LF before sending).
    const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
    const headerText = fc.string({ unit: fc.oneof(headerChar, fc.constant('\t')), maxLength: 200 });
    const b64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 120 });
    const jwtShaped = fc.tuple(b64url, b64url, b64url).map(([a, b, c]) => `${a}.${b}.${c}`);
    const mutated = fc.tuple(fc.nat(), headerChar).map(([i, c]) => {
      const at = i % valid.length;
      return valid.slice(0, at) + c + valid.slice(at + 1);
    });
    const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ', 'Bearer', 'Basic ', '', 'Bearer\t', 'Token ');
    const value = fc.oneof(
      headerText,
      fc.tuple(scheme, headerText).map(([s, t]) => s + t),
      fc.tuple(scheme, jwtShaped).map(([s, t]) => s + t),
      fc.tuple(scheme, mutated).map(([s, t]) => s + t),
    );

    await fc.assert(
      fc.asyncProperty(value, async (authorization) => {
        // A mutation that happens to reproduce the valid token is the one input allowed through.
        if (authorization.trim().split(/\s+/).pop() === valid && /^bearer\s+/i.test(authorization)) return;
        const res = await get(port, authorization);
        expect(res.status).toBe(401);
        expect(JSON.parse(res.body).code).toMatch(/^token_(missing|invalid|expired)$/);
      }),
      { numRuns: RUNS },
    );
  }, 180_000); // a bounded run of RUNS requests; generous so a loaded machine does not fail it
});
