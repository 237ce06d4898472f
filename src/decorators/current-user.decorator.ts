import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { carrierOf } from '../call/transports.js';

/** The authenticated `AuthPrincipal`, or `undefined` on a public route called without a token. */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext) => carrierOf(ctx)?.target.user);

/** The full `AuthContextData` of the request, or `undefined` for a guest. */
export const AuthContext = createParamDecorator((_data: unknown, ctx: ExecutionContext) => carrierOf(ctx)?.target.auth);
