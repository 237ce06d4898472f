import type { ExecutionContext } from '@nestjs/common';
import { AuthError } from '../errors/auth-error.js';
import { refusalOf } from '../errors/bodies.js';
import { DEFAULT_CARRIER_OPTIONS, type AuthTarget, type Carrier, type CarrierOptions } from './carrier.js';
import { GRAPHQL_TRANSPORT } from './graphql.js';
import { HTTP_TRANSPORT, httpFailure } from './http.js';
import { RPC_TRANSPORT } from './rpc.js';
import type { Transport } from './transport.js';
import { WS_TRANSPORT } from './ws.js';

/**
 * The Nest execution contexts the module knows, one entry each. Anything else
 * (a custom transport strategy, a custom context type) is denied. None of the
 * entries loads a transport's package: the exception classes of
 * @nestjs/websockets and @nestjs/microservices come from `loadTransportPeers()`.
 */
const TRANSPORTS: ReadonlyMap<string, Transport> = new Map([
  ['http', HTTP_TRANSPORT],
  ['graphql', GRAPHQL_TRANSPORT],
  ['ws', WS_TRANSPORT],
  ['rpc', RPC_TRANSPORT],
]);

/**
 * Finds the carrier of any Nest execution context: HTTP (Express and
 * Fastify), GraphQL (`context.req`, without depending on @nestjs/graphql),
 * WebSocket (the client; headers from its handshake) and RPC (the message
 * context). Undefined for a context it does not know: the guard denies it.
 */
export function carrierOf(
  ctx: ExecutionContext,
  type: string = ctx.getType<string>(),
  options: CarrierOptions = DEFAULT_CARRIER_OPTIONS,
): Carrier | undefined {
  return TRANSPORTS.get(type)?.carrier(ctx, options);
}

/** The object that stands for the call (where the guard left its record), without reading any credential. */
export function targetOf(ctx: ExecutionContext): AuthTarget | undefined {
  const target = TRANSPORTS.get(ctx.getType<string>())?.target(ctx);
  return typeof target === 'object' && target !== null ? (target as AuthTarget) : undefined;
}

/**
 * What a guard throws for a refusal, in the carrier's transport: a GraphQL
 * error, a `WsException`, an `RpcException` with `{ code, message }`, or on
 * HTTP (and for a transport the module does not know) Nest's HTTP exceptions
 * plus `WWW-Authenticate` and `Retry-After`.
 */
export function failureFor(carrier: Carrier | undefined, err: AuthError, tokenPresented?: boolean): unknown {
  const transport = carrier === undefined ? undefined : TRANSPORTS.get(carrier.type);
  return (transport ?? HTTP_TRANSPORT).failure(err, carrier, tokenPresented);
}

/**
 * What a call of `AuthService` throws for anything it refused, the throttle's
 * 429 and 503 included: the failure of the transport of `carrier` (the call
 * it serves), retry hint included. Without a carrier (no request context: a
 * job, or any handler with `requestContext: false`) Nest's HTTP exception,
 * which still bears the refusal: the refusal interceptor of a resolver, a
 * gateway or a message handler maps it to its transport (`transportFailureOf`).
 * Anything that is not a refusal is passed on as it is.
 */
export function refusalFor(carrier: Carrier | undefined, err: unknown): unknown {
  if (carrier !== undefined && carrier.type !== 'http') return transportFailureOf(carrier, err);
  // On HTTP only the module's own refusals are mapped: an HTTP exception is already in its final shape.
  return err instanceof AuthError ? httpFailure(err, carrier) : err;
}

/** A refusal (an `AuthError`, or an exception bearing one) as the failure of `carrier`'s transport; anything else as it is. */
export function transportFailureOf(carrier: Carrier, err: unknown): unknown {
  const refusal = refusalOf(err);
  return refusal === undefined ? err : failureFor(carrier, refusal);
}
