import { AsyncLocalStorage } from 'node:async_hooks';
import { AuthError } from '../errors/auth-error.js';
import type { RoutePolicy } from '../authorization/route-policy.js';
import type { Carrier } from '../transports/carrier.js';
import type { AuthContextData } from './auth-context.js';

/**
 * One handler execution of a request that a module guard processed. The
 * interceptor creates it and runs the handler inside it with
 * `AsyncLocalStorage.run`, so it reaches exactly that handler's async work:
 * never a middleware, a filter or the next request on a keep-alive socket.
 * It is closed when the handler's answer is complete, so work the handler left
 * running (a timer, a late promise) cannot act on the request afterwards.
 */
export interface HandlerContext {
  readonly carrier: Carrier;
  /** The route policy of the handler (the login throttle reads `@SkipLoginThrottle()` from it). */
  readonly policy: RoutePolicy | undefined;
  /** The authentication of this call; undefined for a guest on a public route. */
  readonly auth: AuthContextData | undefined;
  open: boolean;
}

const storage = new AsyncLocalStorage<HandlerContext>();
/** Contexts not yet closed, across every app of the process. */
let openContexts = 0;

export function runInContext<T>(context: HandlerContext, fn: () => T): T {
  openContexts++;
  return storage.run(context, fn);
}

/**
 * Closes a handler context. When none is left open the storage is disabled:
 * on Node 20 an enabled AsyncLocalStorage keeps promise hooks on for the whole
 * process, so one logout would otherwise slow every later request. Work left
 * over from a closed context then finds no context at all, which refuses the
 * same way (401 `token_missing`).
 */
export function closeContext(context: HandlerContext): void {
  if (!context.open) return;
  context.open = false;
  if (--openContexts === 0) storage.disable();
}

/** Whether the storage (and so, on Node 20, the promise hooks) is on: for the unit specs. */
export function contextStorageEnabled(): boolean {
  return (storage as unknown as { enabled?: boolean }).enabled === true;
}

/** The live handler context, if this code runs inside one (authenticated or not). */
export function currentContext(): HandlerContext | undefined {
  const context = storage.getStore();
  return context !== undefined && context.open ? context : undefined;
}

/**
 * The authentication of the running handler, for the context-bound methods
 * (`logout`, `refreshCurrentSessionToken`, `listSessions`, `endSession`).
 * Anywhere else they fail with the 401 `token_missing`, and the reason says why.
 */
export function requireAuthenticatedContext(method: string): { context: HandlerContext; auth: AuthContextData } {
  const context = storage.getStore();
  if (context === undefined) {
    throw new AuthError(
      'token_missing',
      `${method}_outside_guarded_handler`,
      undefined,
      `${method}() acts on the request whose handler is running, and only when a guard of the module authenticated it: not in a middleware, a filter, a route no module guard ran on, after the response, or (with requestContext: 'auto') in a handler whose class does not reach AuthService through dependency injection`,
    );
  }
  if (!context.open) {
    throw new AuthError('token_missing', `${method}_after_response`, undefined, `${method}() was called after the request's response was complete`);
  }
  if (context.auth === undefined) {
    throw new AuthError(
      'token_missing',
      `${method}_without_credentials`,
      undefined,
      `${method}() needs an authenticated request: this one carried no valid credentials`,
    );
  }
  return { context, auth: context.auth };
}
