import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AuthError } from '../errors/auth-error.js';
import { NestAuthGuard } from '../guard/auth.guard.js';
import type { AuthCarrier } from '../context/request-of.js';
import { carrierOf, transportErrorOf } from './carrier-of.js';
import { asAuthError } from './transport-error.js';
import { TransportAuth } from './transport-auth.js';

const NO_RESPONSE = { setHeader: (): void => undefined };

/**
 * INTEGRATION (interim): runs today's `NestAuthGuard` on any transport by
 * handing it the transport's carrier as an HTTP request, then maps its
 * failure to the transport's own error and copies `auth`/`user` onto the
 * transport's request object. Once the lead's guard reads `carrierOf(ctx)`
 * and throws `transportErrorOf(type, err)` itself, this class goes and apps
 * keep the module's APP_GUARD.
 */
@Injectable()
export class TransportsGuard implements CanActivate {
  constructor(
    private readonly inner: NestAuthGuard,
    private readonly transports: TransportAuth,
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
    const type = ctx.getType<string>();
    if (type === 'http') return this.inner.canActivate(ctx);
    const carrier = carrierOf(ctx, this.transports.carrierOptions, type);
    if (carrier === undefined) {
      // A context this module does not know: deny, never let through (public handlers too).
      throw transportErrorOf(type, new AuthError('token_missing', 'Authentication is required'));
    }
    const shimRequest: AuthCarrier = { headers: carrier.headers };
    const shim = {
      getType: () => 'http',
      getArgByIndex: (i: number) => (i === 0 ? shimRequest : i === 1 ? NO_RESPONSE : undefined),
      getArgs: () => [shimRequest, NO_RESPONSE],
      getHandler: () => ctx.getHandler(),
      getClass: () => ctx.getClass(),
      switchToHttp: () => ({ getRequest: () => shimRequest, getResponse: () => NO_RESPONSE, getNext: () => undefined }),
    } as unknown as ExecutionContext;
    const done = (ok: boolean): boolean => {
      carrier.request.auth = shimRequest.auth;
      carrier.request.user = shimRequest.user;
      return ok;
    };
    const fail = (err: unknown): never => {
      const authError = asAuthError(err);
      throw authError === undefined ? err : transportErrorOf(type, authError);
    };
    let result: boolean | Promise<boolean>;
    try {
      result = this.inner.canActivate(shim);
    } catch (err) {
      return fail(err);
    }
    return typeof result === 'boolean' ? done(result) : result.then(done, fail);
  }
}
