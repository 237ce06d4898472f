import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compiledSources, root } from '../support/compiled-sources.js';

const run = promisify(execFile);

/**
 * Every public method of AuthService and ApiKeyService, called as a job, a CLI or a seed script calls it: with no
 * request around it, first thing in a fresh process (so no earlier call has warmed or settled any shared state), in
 * each `requestContext` mode, with the login throttle on and off. What each must give is below; a method that needs
 * a request refuses with its documented 401 `token_missing`.
 */
type Mode = 'auto' | true | false;
const MODES: Mode[] = ['auto', true, false];
const THROTTLE = [true, false];

const OUTSIDE = '401 token_missing';
const EXPECTED: Record<string, unknown> = {
  login: { first: { access: true, refresh: true }, second: { access: true, refresh: true }, wrong: '401 invalid_credentials', verified: '1' },
  refresh: {
    rotated: { access: true, refresh: true },
    again: { access: true, refresh: true },
    reuse: '401 token_revoked',
    after: '401 token_revoked',
  },
  refreshCurrentSessionToken: { refused: OUTSIDE },
  createToken: { sub: 'job-1' },
  createTokenForUser: { sub: '1' },
  verifyAccessToken: { sub: '1', garbage: '401 token_invalid', empty: '401 token_missing' },
  revokeToken: { access: '401 token_revoked', refresh: '401 token_revoked' },
  revokeAllForUser: { access: '401 token_revoked', refresh: '401 token_revoked' },
  logout: { refused: OUTSIDE },
  listSessions: { refused: OUTSIDE },
  endSession: { refused: OUTSIDE },
  purgeExpired: { purged: 'number' },
  getJwks: { keys: true },
  'apiKeys.create': { id: 'string', permissions: ['articles:read'] },
  // The guard's check (not part of the documented API): it throws the AuthError the guard turns into the 401.
  'apiKeys.authenticate': { refused: 'AuthError api_key_invalid' },
  'apiKeys.list': { count: 0 },
  'apiKeys.revoke': { refused: 'AuthError api_key_invalid' },
  'apiKeys.flush': { flushed: true },
};

const cases = Object.keys(EXPECTED).flatMap((method) =>
  MODES.flatMap((requestContext) => THROTTLE.map((throttle) => ({ method, requestContext, throttle }))),
);

/** Runs the cases in child processes, a few at a time (one node per core at most). */
async function runAll(lib: string): Promise<Map<string, unknown>> {
  const results = new Map<string, unknown>();
  const queue = [...cases];
  const script = join(root, 'test/outside-request/child.mjs');
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      const { stdout } = await run(process.execPath, [script, lib, JSON.stringify(c)], { cwd: root, timeout: 60_000 }).catch(
        (err: { stdout?: string; stderr?: string }) => ({ stdout: `RESULT ${JSON.stringify({ crashed: err.stderr?.slice(-2000) })}` }),
      );
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      results.set(JSON.stringify(c), line ? JSON.parse(line.slice('RESULT '.length)) : { noResult: stdout.slice(-2000) });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, worker));
  return results;
}

describe('AuthService and ApiKeyService outside any request, each method first in a fresh process', () => {
  let results: Map<string, unknown>;
  beforeAll(async () => {
    results = await runAll(compiledSources());
  }, 600_000);

  test.each(cases)('$method (requestContext $requestContext, throttle $throttle)', (c) => {
    expect(results.get(JSON.stringify(c))).toEqual({ ok: true, value: EXPECTED[c.method] });
  });
});
