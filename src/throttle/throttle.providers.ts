import type { Provider } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { ClientAddress } from './client-address.js';
import { DeviceCookies } from './device-cookie.js';
import { LOGIN_THROTTLE_OPTIONS, LoginThrottle } from './login-throttle.js';
import type { ResolvedLoginThrottleOptions } from './login-throttle.options.js';
import { THROTTLE_STORE, type ThrottleStore } from './throttle-store.js';

/**
 * The options (validated with the module's), the throttle, and what reads the call for it: the client's address
 * (`AuthService` puts it in the `Caller`) and the device cookies (read by the throttle, written with the answer).
 * `THROTTLE_STORE` is the throttle's store as resolved at init, bounded like the module's other stores.
 */
export const loginThrottleProviders: Provider[] = [
  { provide: LOGIN_THROTTLE_OPTIONS, useFactory: (o: { loginThrottle: ResolvedLoginThrottleOptions }) => o.loginThrottle, inject: [AUTH_OPTIONS] },
  {
    provide: ClientAddress,
    useFactory: (o: ResolvedLoginThrottleOptions, adapterHost?: HttpAdapterHost) => new ClientAddress(o.clientAddress, adapterHost),
    inject: [LOGIN_THROTTLE_OPTIONS, { token: HttpAdapterHost, optional: true }],
  },
  {
    provide: DeviceCookies,
    useFactory: (o: ResolvedLoginThrottleOptions) => new DeviceCookies(o.deviceCookie, o.fingerprintKey),
    inject: [LOGIN_THROTTLE_OPTIONS],
  },
  LoginThrottle,
  { provide: THROTTLE_STORE, useFactory: (throttle: LoginThrottle) => lateBound(throttle), inject: [LoginThrottle] },
];

const LIFECYCLE_HOOKS = new Set<PropertyKey>([
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
]);

/** Forwards every call to the throttle's store as resolved at init (the token exists before the store does). */
function lateBound(throttle: LoginThrottle): ThrottleStore {
  return new Proxy({} as ThrottleStore, {
    get(_target, property) {
      // The throttle runs its store's lifecycle (closing a Redis client it connected): Nest must not run it twice.
      if (LIFECYCLE_HOOKS.has(property)) return undefined;
      let store: Record<string | symbol, unknown>;
      try {
        store = throttle.store as unknown as Record<string | symbol, unknown>;
      } catch {
        // Before the module has initialised there is nothing to forward to (Nest itself probes providers for hooks).
        return undefined;
      }
      const value = store[property];
      return typeof value === 'function' ? (value as Function).bind(store) : value;
    },
  });
}
