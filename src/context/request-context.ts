import { AsyncLocalStorage } from 'node:async_hooks';
import { AuthError } from '../errors/auth-error.js';
import type { Carrier } from '../call/carrier.js';
import type { RoutePolicy } from '../call/policy.js';
import type { AuthContextData } from './auth-context.js';
import { grantOf, type CallGrant } from './call-grant.js';

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
  /**
   * The handler streams (an `@Sse()` route from the start; any other handler
   * once its answer has delivered a first value). The stream's pipeline may
   * run for anyone from then on: a value another request pushes into a shared
   * Subject runs the pipeline in that request's context, a shared timer in
   * the context of whoever started it. So the ambient form of the
   * context-bound methods is refused here; the explicit form still works.
   */
  streaming: boolean;
  /**
   * With `requestContext: true`: the handler's class, and whether a class can
   * reach AuthService. Code that calls AuthService inside the context of a
   * handler that cannot reach it is not that handler's (a subscriber the
   * handler fed, a listener it triggered), so it is refused.
   */
  readonly owner?: Function;
  readonly reach?: { needsContext(type: Function): boolean };
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
 * The ambient form of the context-bound methods (`logout`,
 * `refreshCurrentSessionToken`, `listSessions`, `endSession` called without
 * their caller): the running handler's call, and the guard's grant for it.
 * Refused with the 401 `token_missing`, the reason saying why, wherever the
 * running code is known not to serve that call: no context, after the
 * response, in a streaming handler, in a handler that cannot reach
 * AuthService (requestContext: true).
 */
export function requireAuthenticatedContext(method: string): { context: HandlerContext; auth: AuthContextData; grant: CallGrant } {
  const context = storage.getStore();
  if (context === undefined) {
    throw new AuthError(
      'token_missing',
      `${method}_outside_guarded_handler`,
      undefined,
      `${method}() acts on the request whose handler is running, and only when a guard of the module authenticated it: not in a middleware, a filter, a route no module guard ran on, after the response, or (with requestContext: 'auto') in a handler whose class does not reach AuthService through dependency injection. In streams, gateways, event listeners and timers pass the caller: ${method}(${method === 'endSession' ? 'sessionId, ' : ''}ctx) with ctx from @AuthContext()`,
    );
  }
  if (!context.open) {
    throw new AuthError('token_missing', `${method}_after_response`, undefined, `${method}() was called after the request's response was complete`);
  }
  if (context.streaming) {
    throw new AuthError(
      'token_missing',
      `${method}_in_stream`,
      undefined,
      `${method}() without its caller is refused once a handler streams (@Sse(), or an answer that delivered a first value): a stream's pipeline runs in the context of whatever pushes into it, possibly another user's request. Pass the caller: ${method}(${method === 'endSession' ? 'sessionId, ' : ''}ctx) with ctx from @AuthContext()`,
    );
  }
  if (context.reach !== undefined && context.owner !== undefined && !context.reach.needsContext(context.owner)) {
    throw new AuthError(
      'token_missing',
      `${method}_in_foreign_handler`,
      undefined,
      `${method}() ran inside the call of ${context.owner.name}, whose class cannot reach AuthService: this code serves another call (a stream or listener this handler fed). Pass the caller: ${method}(${method === 'endSession' ? 'sessionId, ' : ''}ctx) with ctx from @AuthContext()`,
    );
  }
  if (context.auth === undefined) {
    throw new AuthError(
      'token_missing',
      `${method}_without_credentials`,
      undefined,
      `${method}() needs an authenticated request: this one carried no valid credentials`,
    );
  }
  const grant = grantOf(context.auth);
  if (grant === undefined) {
    // Every context the interceptor opens carries an auth the guard granted; anything else is a bug, and refused.
    throw new AuthError('token_missing', `${method}_without_grant`);
  }
  return { context, auth: context.auth, grant };
}
