import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, type Observable, throwError } from 'rxjs';
import { SKIP_LOGIN_THROTTLE } from './skip-login-throttle.decorator.js';
import { isRetryLater } from './throttle-errors.js';

/** Requests whose route carries `@SkipLoginThrottle()`; read by `LoginThrottle.check`. */
export const unthrottledRequests = new WeakSet<object>();

/**
 * Two jobs around every handler: marks the requests of `@SkipLoginThrottle()`
 * routes (decided once per handler), and writes `Retry-After` (RFC 9110 §10.2.3)
 * on 429 `too_many_attempts` and 503 `auth_busy` answers, whose exceptions carry
 * the seconds. Registered by the module as APP_INTERCEPTOR.
 */
@Injectable()
export class LoginThrottleInterceptor implements NestInterceptor {
  private readonly skipOf = new WeakMap<object, boolean>();

  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const handler = context.getHandler();
    let skip = this.skipOf.get(handler);
    if (skip === undefined) {
      skip = this.reflector.getAllAndOverride<boolean>(SKIP_LOGIN_THROTTLE, [handler, context.getClass()]) === true;
      this.skipOf.set(handler, skip);
    }
    const request = context.getArgByIndex(0) as object | undefined;
    if (skip && request) unthrottledRequests.add(request);
    return next.handle().pipe(
      catchError((err: unknown) => {
        if (isRetryLater(err)) {
          const response = context.getArgByIndex(1) as {
            header?: (n: string, v: string) => unknown;
            setHeader?: (n: string, v: string) => unknown;
            headersSent?: boolean;
            sent?: boolean;
          };
          const value = String(Math.max(1, Math.ceil(err.retryAfterSeconds)));
          // Express and Fastify both have header(name, value); a bare Node response has setHeader.
          if (typeof response?.header === 'function') response.header('Retry-After', value);
          else if (typeof response?.setHeader === 'function' && !response.headersSent) response.setHeader('Retry-After', value);
        }
        return throwError(() => err);
      }),
    );
  }
}
