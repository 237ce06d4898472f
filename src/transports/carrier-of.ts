import type { ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import { carrierOf, type Carrier } from './carrier.js';
import { failureFor } from './errors.js';
import { graphqlCarrier, toGraphqlError } from './graphql.js';
import { rpcCarrier, toRpcException } from './rpc.js';
import { DEFAULT_CARRIER_OPTIONS, type CarrierOptions } from './transport-carrier.js';
import { toWsException, wsCarrier } from './ws.js';

/**
 * INTEGRATION: what `carrierOf(ctx)` in carrier.ts becomes: the transport
 * readers of graphql.ts, ws.ts and rpc.ts, HTTP as before, undefined (deny)
 * for any other context.
 */
export function transportCarrierOf(ctx: ExecutionContext, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS, type: string = ctx.getType<string>()): Carrier | undefined {
  switch (type) {
    case 'graphql':
      return graphqlCarrier(ctx, options);
    case 'ws':
      return wsCarrier(ctx, options);
    case 'rpc':
      return rpcCarrier(ctx, options);
    default:
      return carrierOf(ctx, type);
  }
}

/**
 * INTEGRATION: what `failureFor(carrier, err, tokenPresented)` in errors.ts
 * becomes: the thing to throw in the carrier's transport. HTTP (and a context
 * without a carrier) keep Nest's HTTP exceptions and their headers.
 */
export function transportFailureOf(carrier: Carrier | undefined, err: AuthError, tokenPresented: boolean): unknown {
  switch (carrier?.type) {
    case 'graphql':
      return toGraphqlError(err);
    case 'ws':
      return toWsException(err);
    case 'rpc':
      return toRpcException(err);
    default:
      return failureFor(carrier, err, tokenPresented);
  }
}

/** The failure for a context that has no carrier (unknown to the module), in the transport its type names. */
export function unknownContextFailure(type: string, err: AuthError): unknown {
  return transportFailureOf({ type, target: {}, headers: undefined, response: undefined }, err, false);
}
