import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { takeGuardMark } from '../transports/carrier.js';
import { closeContext, runInContext, type HandlerContext } from './request-context.js';

/** `requestContext` as the module was given it: the guard marks calls for the interceptor unless it is false. */
export const REQUEST_CONTEXT_MODE = Symbol('REQUEST_CONTEXT_MODE');
export type RequestContextMode = boolean | 'auto';

/**
 * Binds the request context to the handler. It runs after the guards, takes
 * the mark a module guard left on the call (none: no context, the
 * context-bound methods refuse) and subscribes to the handler inside
 * `AsyncLocalStorage.run`. With `requestContext: true` it is an
 * APP_INTERCEPTOR; with `'auto'` one instance of it is put on the classes
 * that can reach AuthService (see `bindRequestContext`). It holds no state,
 * so the apps of one process can share that instance.
 */
export class RequestContextInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const mark = takeGuardMark(ctx);
    if (mark === undefined) return next.handle();
    const context: HandlerContext = { carrier: mark.carrier, auth: mark.auth, policy: mark.policy, open: true };
    return new Observable((subscriber) => {
      const subscription = runInContext(context, () => next.handle().subscribe(subscriber));
      return () => {
        closeContext(context);
        subscription.unsubscribe();
      };
    });
  }
}

/** The instance `requestContext: 'auto'` puts on classes. */
export const CLASS_CONTEXT_INTERCEPTOR = new RequestContextInterceptor();
