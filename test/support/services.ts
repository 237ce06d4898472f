/**
 * The servers and the browser some suites need beyond SQLite, each opted in
 * by one variable, as the database suites are (`databases.ts`): a machine with
 * nothing running and nothing set runs `npm test` to the end, and a suite that
 * cannot run says so in one line. `.ci/run` sets every variable (and installs
 * Debian's chromium), so CI runs them all.
 *
 * No default URL on purpose: a default pointing at localhost made a bare
 * machine fail (connection refused) or hang (clients reconnecting forever)
 * instead of skipping. A variable that is set but points at nothing is a
 * failure, not a skip: the run asked for that server.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';

export type TestService = 'postgres' | 'mysql' | 'redis' | 'nats' | 'chromium';

const SERVICES: Record<TestService, { variable: string; what: string; example: string }> = {
  postgres: { variable: 'AUTH_TEST_POSTGRES_URL', what: 'PostgreSQL', example: 'postgres://postgres@127.0.0.1:5432/test' },
  mysql: { variable: 'AUTH_TEST_MYSQL_URL', what: 'MariaDB/MySQL', example: 'mysql://root@127.0.0.1:3306/test' },
  redis: { variable: 'AUTH_TEST_REDIS_URL', what: 'Redis', example: 'redis://127.0.0.1:6379' },
  nats: { variable: 'AUTH_TEST_NATS_URL', what: 'NATS', example: 'nats://127.0.0.1:4222' },
  chromium: { variable: 'AUTH_TEST_CHROMIUM', what: 'Chromium', example: '/usr/bin/chromium (apt-get install chromium)' },
};

/** The URL (or, for chromium, the executable) of `service`, or undefined when its variable is unset. */
export function serviceUrl(service: TestService): string | undefined {
  const { variable, what } = SERVICES[service];
  const value = process.env[variable] || undefined;
  // Asked for, but not there: fail the run rather than skip what it asked to test.
  if (service === 'chromium' && value !== undefined && !existsSync(value))
    throw new Error(`${variable}=${value}: no such file; install ${what} (apt-get install chromium) or unset ${variable}`);
  return value;
}

/** The hint a skip line gives: which variable runs the skipped part. */
export const enableHint = (service: TestService) => `set ${SERVICES[service].variable}=${SERVICES[service].example}`;

const announced = new Set<string>();

/** The running spec file, relative to the repository (for the skip lines). */
export function suiteName(): string {
  const path = expect.getState().testPath;
  return path ? relative(process.cwd(), path) : 'this suite';
}

/**
 * Prints, once per suite and label, that `what` was skipped because `services`
 * are not configured, and how to enable it. Returns whether they all are.
 */
export function needs(what: string, ...services: TestService[]): boolean {
  const missing = services.filter((s) => serviceUrl(s) === undefined);
  if (missing.length === 0) return true;
  if (!announced.has(what)) {
    announced.add(what);
    // stdout, not console: Jest prints it as one plain line, without a stack trace.
    process.stdout.write(`[skipped] ${suiteName()}, ${what}: ${missing.map(enableHint).join(' and ')} (bash .ci/run sets them all)\n`);
  }
  return false;
}

/** `describe` when every one of `services` is configured, else `describe.skip` and one line saying so. */
export const describeWith = (what: string, ...services: TestService[]): typeof describe | typeof describe.skip =>
  needs(what, ...services) ? describe : describe.skip;

/** `test` when every one of `services` is configured, else `test.skip` (the line is printed once per `what`). */
export const testWith = (what: string, ...services: TestService[]): typeof test | typeof test.skip => (needs(what, ...services) ? test : test.skip);

/**
 * For a suite that runs per variant (a channel, a store), the variants whose
 * services are all configured; one line names the skipped ones and what enables them.
 * Use with `describeEachOf`, which also accepts an empty list.
 */
export function runnableVariants<K extends string>(what: string, variants: Record<K, TestService[]>): K[] {
  const runnable: K[] = [];
  const skipped: string[] = [];
  const hints = new Set<string>();
  for (const [name, services] of Object.entries(variants) as Array<[K, TestService[]]>) {
    const missing = services.filter((s) => serviceUrl(s) === undefined);
    if (missing.length === 0) runnable.push(name);
    else {
      skipped.push(name);
      for (const s of missing) hints.add(enableHint(s));
    }
  }
  if (skipped.length > 0 && !announced.has(what)) {
    announced.add(what);
    process.stdout.write(`[skipped] ${suiteName()}, ${what} over ${skipped.join(', ')}: ${[...hints].join(' and ')} (bash .ci/run sets them all)\n`);
  }
  return runnable;
}

/** `describe.each(names)`, or one skipped block when `names` is empty (Jest refuses an empty table). */
export function describeEachOf<K extends string>(names: readonly K[]): (title: string, fn: (name: K) => void) => void {
  if (names.length > 0) return (title, fn) => describe.each([...names])(title, fn);
  // Skipped only when none of the variants' servers is configured (their variables; .ci/run sets them all).
  return (title) => describe.skip(title.replace(/%s/g, 'every variant'), () => test('needs its servers', () => undefined));
}
