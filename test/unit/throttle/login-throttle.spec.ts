import 'reflect-metadata';
import { beforeEach, describe, expect, test } from '@jest/globals';
import type { ModuleRef } from '@nestjs/core';
import type { AuditEvent } from '../../../src/audit/audit-event.js';
import type { AuditEmitter } from '../../../src/audit/audit.emitter.js';
import { NO_CALLER, type Caller } from '../../../src/call/caller.js';
import { DeviceCookies } from '../../../src/throttle/device-cookie.js';
import { LoginThrottle } from '../../../src/throttle/login-throttle.js';
import { resolveLoginThrottleOptions } from '../../../src/throttle/login-throttle.options.js';
import { TooManyAttemptsException } from '../../../src/throttle/throttle-errors.js';
import { SECRET } from '../../support/app.js';

/**
 * Issue 24 items 2 and 5: the throttle only counts, and everything about the call comes in as a parameter. Built
 * by hand and called with plain `Caller` values: no Nest app, no request, no request context.
 */

const callerAt = (address: string | undefined, extra: Partial<Caller> = {}): Caller => ({ ...NO_CALLER, address, ...extra });

describe('LoginThrottle, called without a request', () => {
  let events: AuditEvent[];
  let throttle: LoginThrottle;

  beforeEach(async () => {
    events = [];
    const options = resolveLoginThrottleOptions(
      {
        perAccountAndIp: { limit: 2, windowSeconds: 60 },
        perAccount: { limit: 5, windowSeconds: 60 },
        refreshPerIp: { limit: 1, windowSeconds: 60 },
        deviceCookie: true,
      },
      { jwt: { secret: SECRET } },
    );
    const audit = { emit: (event: AuditEvent) => void events.push(event) } as unknown as AuditEmitter;
    throttle = new LoginThrottle(options, new DeviceCookies(options.deviceCookie, options.fingerprintKey), audit, undefined as unknown as ModuleRef);
    await throttle.onModuleInit();
  });

  test("counts by the address the caller names: over the limit at one address, another address's attempts still go through", async () => {
    for (let i = 0; i < 2; i++) await (await throttle.check('alice', callerAt('203.0.113.7'))).failed();
    const refused = await throttle.check('alice', callerAt('203.0.113.7')).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TooManyAttemptsException);
    expect(refused).toMatchObject({ code: 'too_many_attempts', reason: 'perAccountAndIp' });
    expect((refused as TooManyAttemptsException).retryAfterSeconds).toBeGreaterThan(0);
    // The same name from elsewhere is counted apart (per account it is still under its limit).
    await expect(throttle.check('alice', callerAt('198.51.100.4'))).resolves.toBeDefined();
    expect(events).toEqual([expect.objectContaining({ type: 'login.throttled', ip: '203.0.113.7', reason: 'perAccountAndIp' })]);
  });

  test('a caller with no address counts per account only; `skipLoginThrottle` counts nothing', async () => {
    for (let i = 0; i < 5; i++) await (await throttle.check('bob', NO_CALLER)).failed();
    await expect(throttle.check('bob', NO_CALLER)).rejects.toMatchObject({ reason: 'perAccount' });
    // The app throttles this route itself: never counted, never refused.
    for (let i = 0; i < 10; i++) await (await throttle.check('bob', callerAt('203.0.113.8', { skipLoginThrottle: true }))).failed();
  });

  test('a success gives the counts back and names the device to remember', async () => {
    const attempt = await throttle.check('carol', callerAt('203.0.113.9'));
    await expect(attempt.succeeded()).resolves.toEqual({ account: throttle.usernameFingerprint('carol'), id: undefined });
    for (let i = 0; i < 2; i++) await (await throttle.check('carol', callerAt('203.0.113.9'))).failed();
    await expect(throttle.check('carol', callerAt('203.0.113.9'))).rejects.toBeInstanceOf(TooManyAttemptsException);
  });

  test('refused refresh tokens count per address given, and only with one', async () => {
    await throttle.refreshFailed(NO_CALLER);
    await throttle.refreshFailed(NO_CALLER);
    await throttle.refreshFailed(callerAt('203.0.113.10'));
    await expect(throttle.refreshFailed(callerAt('203.0.113.10'))).rejects.toMatchObject({ reason: 'refreshPerIp' });
  });

  test('the shown username is the fingerprint of its account: case and Unicode variants match', () => {
    expect(throttle.shownUsername('Alice')).toMatch(/^fp:[A-Za-z0-9_-]{16}$/);
    expect(throttle.shownUsername(' ALICE ')).toBe(throttle.shownUsername('alice'));
    expect(throttle.shownUsername('alice')).toBe(`fp:${throttle.usernameFingerprint('alice').slice(0, 16)}`);
  });

  test('the store is bounded like every other store: a call that never settles is 503 auth_unavailable/store_timeout', async () => {
    const hanging = { hit: () => new Promise<never>(() => undefined), release: async () => undefined, reset: async () => undefined };
    const options = resolveLoginThrottleOptions({ store: hanging, storeTimeoutMs: 20 }, { jwt: { secret: SECRET } });
    const audit = { emit: () => undefined } as unknown as AuditEmitter;
    const bounded = new LoginThrottle(options, new DeviceCookies(null, options.fingerprintKey), audit, undefined as unknown as ModuleRef);
    await bounded.onModuleInit();
    await expect(bounded.check('alice', callerAt('203.0.113.11'))).rejects.toMatchObject({ code: 'auth_unavailable', reason: 'store_timeout' });
  });
});
