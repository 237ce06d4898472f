import { type ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import { toHttpException } from './http-error.js';
import { DEFAULT_CARRIER_OPTIONS, type CarrierOptions, type TransportCarrier } from './transport-carrier.js';
import { graphqlCarrier, toGraphqlError } from './graphql.js';
import { rpcCarrier, toRpcException } from './rpc.js';
import { toWsException, wsCarrier } from './ws.js';

/** HTTP on Express and Fastify: the request is argument 0 (switchToHttp() would build closures), the response argument 1. */
export function httpCarrier(ctx: ExecutionContext): TransportCarrier | undefined {
  const request = ctx.getArgByIndex(0) as TransportCarrier['request'] | undefined;
  if (typeof request !== 'object' || request === null) return undefined;
  return { type: 'http', request, headers: (request.headers ?? {}) as TransportCarrier['headers'], response: ctx.getArgByIndex(1) };
}

/** The carrier of any context the module knows; undefined (deny) for the others. */
export function carrierOf(ctx: ExecutionContext, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS, type: string = ctx.getType<string>()): TransportCarrier | undefined {
  switch (type) {
    case 'http':
      return httpCarrier(ctx);
    case 'graphql':
      return graphqlCarrier(ctx, options);
    case 'ws':
      return wsCarrier(ctx, options);
    case 'rpc':
      return rpcCarrier(ctx, options);
    default:
      return undefined;
  }
}

/**
 * The thing to throw for an auth failure in a context of `type`. An unknown
 * type gets Nest's HTTP exception: whatever the context, it is a refusal.
 */
export function transportErrorOf(type: string, err: AuthError): unknown {
  switch (type) {
    case 'graphql':
      return toGraphqlError(err);
    case 'ws':
      return toWsException(err);
    case 'rpc':
      return toRpcException(err);
    default:
      return toHttpException(err);
  }
}
