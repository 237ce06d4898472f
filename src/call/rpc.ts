import type { ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import { bodyOf } from '../errors/bodies.js';
import { DEFAULT_CARRIER_OPTIONS, transportCarrier, withToken, type CarrierHeaders, type CarrierOptions, type TransportCarrier } from './carrier.js';
import { transportPeers } from './peers.js';
import type { Transport } from './transport.js';

/** NATS message headers as @nats-io's MsgHdrs expose them. */
interface NatsHeaders {
  keys(): string[];
  get(name: string): string;
}

/**
 * Microservices. NATS: the message headers (set by the client with
 * `new NatsRecordBuilder(data).setHeaders(h)`), names matched case-insensitively.
 * When headers cannot be sent, the payload field `auth.token` (a raw token,
 * socket.io's convention) is the documented fallback; TCP has no headers, so
 * it is TCP's only channel. The handler still receives the field: do not log
 * payloads that carry it. Any other RPC context is unknown: undefined, denied.
 */
export function rpcCarrier(ctx: ExecutionContext, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS): TransportCarrier | undefined {
  const rpc = ctx.switchToRpc();
  const context = rpc.getContext() as Record<string, unknown> | undefined;
  if (typeof context !== 'object' || context === null) return undefined;
  let headers: CarrierHeaders;
  if (typeof context.getSubject === 'function' && typeof context.getHeaders === 'function') {
    headers = natsHeaders((context.getHeaders as () => unknown).call(context));
  } else if (typeof context.getSocketRef === 'function' && typeof context.getPattern === 'function') {
    headers = {};
  } else {
    return undefined;
  }
  withToken(headers, payloadTokenOf(rpc.getData()), options);
  return transportCarrier('rpc', context, headers);
}

function natsHeaders(source: unknown): CarrierHeaders {
  const out: CarrierHeaders = {};
  const h = source as NatsHeaders | undefined;
  if (!h || typeof h.keys !== 'function' || typeof h.get !== 'function') return out;
  for (const name of h.keys()) {
    const key = name.toLowerCase();
    const value = h.get(name);
    const existing = out[key];
    out[key] = existing === undefined ? value : ([] as string[]).concat(existing, value);
  }
  return out;
}

function payloadTokenOf(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return undefined;
  const auth = (data as { auth?: unknown }).auth;
  return typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
}

/** A handler's failure as the client receives it: the ClientProxy's observable errors with `{ code, message }`. */
export function toRpcException(err: AuthError): Error {
  const RpcException = transportPeers().RpcException;
  if (RpcException === undefined) throw new Error('@nestjs/microservices is not loaded: call loadTransportPeers() at boot');
  return new RpcException(bodyOf(err));
}

/** Microservices: the message context is the call (argument 1); a refusal is an `RpcException`. */
export const RPC_TRANSPORT: Transport = {
  carrier: rpcCarrier,
  target: (ctx) => ctx.getArgByIndex(1),
  failure: (err) => toRpcException(err),
};
