import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { takeGuardMark } from '../transports/carrier.js';
import { runInContext, type HandlerContext } from './request-context.js';

/**
 * Binds the request context to the handler: registered by the module as an
 * APP_INTERCEPTOR, it runs after the guards, takes the mark a module guard
 * left on the request (none: no context, the context-bound methods refuse)
 * and subscribes to the handler inside `AsyncLocalStorage.run`.
 */
@Injectable()
export class RequestContextInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const mark = takeGuardMark(ctx);
    if (mark === undefined) return next.handle();
    const context: HandlerContext = { carrier: mark.carrier, auth: mark.auth, policy: mark.policy, open: true };
    return new Observable((subscriber) => {
      const subscription = runInContext(context, () => next.handle().subscribe(subscriber));
      return () => {
        context.open = false;
        subscription.unsubscribe();
      };
    });
  }
}
