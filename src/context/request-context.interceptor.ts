import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
import { Observable } from 'rxjs';
import { takeGuardMark } from '../call/record.js';
import { closeContext, runInContext, type HandlerContext } from './request-context.js';

/** `requestContext` as the module was given it: the guard marks calls for the interceptor unless it is false. */
export const REQUEST_CONTEXT_MODE = Symbol('REQUEST_CONTEXT_MODE');
export type RequestContextMode = boolean | 'auto';

/** With `requestContext: true`, the module's `ContextReach` for the interceptor. */
export const HANDLER_REACH = Symbol('HANDLER_REACH');

/** Which classes can reach AuthService (`ContextReach`), as the interceptor of `requestContext: true` asks it. */
export interface HandlerReach {
  needsContext(type: Function): boolean;
}

/**
 * Binds the request context to the handler. It runs after the guards, takes
 * the mark a module guard left on the call (none: no context, the
 * context-bound methods refuse) and subscribes to the handler inside
 * `AsyncLocalStorage.run`. With `requestContext: true` it is an
 * APP_INTERCEPTOR; with `'auto'` one instance of it is put on the classes
 * that can reach AuthService (see `bindRequestContext`). It holds no per-call
 * state, so the apps of one process can share that instance.
 *
 * AsyncLocalStorage follows the code that runs, not the call that code
 * serves: a stream's pipeline runs in the context of whoever pushes into it.
 * So a context stops serving the ambient form of the context-bound methods
 * once its handler streams: an `@Sse()` route from the start, any other
 * handler once its answer delivered a first value (a plain answer is complete
 * then anyway; a stream has been returned).
 */
export class RequestContextInterceptor implements NestInterceptor {
  /** `reach`: with `requestContext: true`, to refuse the ambient form in handlers that cannot reach AuthService. */
  constructor(private readonly reach?: HandlerReach) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const mark = takeGuardMark(ctx);
    if (mark === undefined) return next.handle();
    const context: HandlerContext = {
      carrier: mark.carrier,
      auth: mark.auth,
      policy: mark.policy,
      open: true,
      streaming: declaresStream(mark.handler),
      owner: this.reach === undefined ? undefined : ctx.getClass(),
      reach: this.reach,
    };
    return new Observable((subscriber) => {
      const subscription = runInContext(context, () =>
        next.handle().subscribe({
          next: (value) => {
            context.streaming = true;
            subscriber.next(value);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
      return () => {
        closeContext(context);
        subscription.unsubscribe();
      };
    });
  }
}

const streamRoutes = new WeakMap<Function, boolean>();

/** An `@Sse()` route streams from the start: its handler returns the stream, and nothing marks that moment. */
function declaresStream(handler: Function): boolean {
  let declared = streamRoutes.get(handler);
  if (declared === undefined) {
    declared = Reflect.getMetadata(SSE_METADATA, handler) === true;
    streamRoutes.set(handler, declared);
  }
  return declared;
}

/** The instance `requestContext: 'auto'` puts on classes. */
export const CLASS_CONTEXT_INTERCEPTOR = new RequestContextInterceptor();
