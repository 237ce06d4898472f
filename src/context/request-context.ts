import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuthCarrier } from './request-of.js';

/**
 * The request being served, without request-scoped providers (which would
 * make every provider that injects AuthService request-scoped, and slow).
 * The guard enters the request object itself synchronously, before any await
 * (a store entered after an await does not reach the handler), and later
 * writes `auth` onto it; `AuthService.logout()` and
 * `refreshCurrentSessionToken()` read it from here.
 */
export const currentRequest = new AsyncLocalStorage<AuthCarrier>();
