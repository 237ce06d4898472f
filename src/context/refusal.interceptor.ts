import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { catchError, type Observable } from 'rxjs';
import { carrierOf, transportFailureOf } from '../call/transports.js';

/**
 * With `requestContext: false` no context tells `AuthService` which transport
 * a call of it serves, so its refusal leaves it as Nest's HTTP exception,
 * bearing the refusal. On the classes that can reach `AuthService` (as
 * `'auto'` puts the context interceptor), this maps such a refusal to the
 * transport of the handler that let it through: a GraphQL error, a
 * `WsException`, an `RpcException`, each with its code and retry hint, as
 * with a request context. HTTP keeps the exception as it is. No
 * AsyncLocalStorage, nothing per call but the error path.
 */
export class RefusalInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const type = ctx.getType<string>();
    if (type === 'http') return next.handle();
    return next.handle().pipe(
      catchError((err: unknown) => {
        const carrier = carrierOf(ctx, type);
        throw carrier === undefined ? err : transportFailureOf(carrier, err);
      }),
    );
  }
}

/** The instance `requestContext: false` puts on classes. */
export const CLASS_REFUSAL_INTERCEPTOR = new RefusalInterceptor();
