import type { ExecutionContext } from '@nestjs/common';
import type { RoutePolicy } from '../authorization/route-policy.js';
import type { AuthContextData } from '../context/auth-context.js';
import { graphqlCarrier } from './graphql.js';
import { rpcCarrier } from './rpc.js';
import { DEFAULT_CARRIER_OPTIONS, type AuthTarget, type Carrier, type CarrierOptions } from './transport-carrier.js';
import { wsCarrier } from './ws.js';

export type { AuthTarget, Carrier } from './transport-carrier.js';

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
  switch (type) {
    case 'http': {
      // The request is argument 0 and the response argument 1: switchToHttp() would build closures on every call.
      const target = ctx.getArgByIndex(0) as AuthTarget | undefined;
      if (!isRecord(target)) return undefined;
      return { type, target, headers: target.headers as Record<string, unknown> | undefined, response: ctx.getArgByIndex(1) };
    }
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

function targetOf(ctx: ExecutionContext, type: string): AuthTarget | undefined {
  let target: unknown;
  switch (type) {
    case 'http':
      target = ctx.getArgByIndex(0);
      break;
    case 'graphql':
      target = (ctx.getArgByIndex(2) as { req?: unknown } | undefined)?.req;
      break;
    case 'ws':
      target = ctx.getArgByIndex(0);
      break;
    case 'rpc':
      target = ctx.getArgByIndex(1);
      break;
    default:
      return undefined;
  }
  return isRecord(target) ? (target as AuthTarget) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

// --- the record of a call ----------------------------------------------------

const CALL = Symbol('nest-auth:call');

/**
 * What the guards know of one call, kept on its target: the policy and handler
 * (a passport strategy sees only the request, so it reads them here), and,
 * once a module guard has processed the call, its authentication (the request
 * context interceptor binds that to the handler). One object per call.
 */
export interface CallRecord {
  readonly carrier: Carrier;
  readonly policy: RoutePolicy;
  readonly handler: Function;
  /** A module guard processed the call (authenticated it, or let a guest through). */
  guarded: boolean;
  auth: AuthContextData | undefined;
}

/** Records the call's policy and handler before any credential is read. */
export function recordCall(carrier: Carrier, policy: RoutePolicy, handler: Function): CallRecord {
  const record: CallRecord = { carrier, policy, handler, guarded: false, auth: undefined };
  carrier.target[CALL] = record;
  return record;
}

export function recordedCall(target: object): CallRecord | undefined {
  return (target as Record<symbol, CallRecord | undefined>)[CALL];
}

/** A module guard processed this call: the request context interceptor binds it to the handler. */
export function markGuarded(handler: Function | undefined, carrier: Carrier, auth: AuthContextData | undefined, policy: RoutePolicy): void {
  if (handler === undefined) return;
  let record = recordedCall(carrier.target);
  if (record === undefined || record.handler !== handler) record = recordCall(carrier, policy, handler);
  record.guarded = true;
  record.auth = auth;
}

/**
 * Takes (and removes) the guarded record of this call. A socket or an RPC
 * context can outlive one message, so the record must name this handler, and
 * is used once.
 */
export function takeGuardMark(ctx: ExecutionContext): CallRecord | undefined {
  const target = targetOf(ctx, ctx.getType<string>());
  if (target === undefined) return undefined;
  const record = recordedCall(target);
  if (record === undefined || !record.guarded) return undefined;
  target[CALL] = undefined;
  return record.handler === ctx.getHandler() ? record : undefined;
}

/** Sets a header on an Express or Fastify response (a no-op elsewhere). */
export function setResponseHeader(response: unknown, name: string, value: string): void {
  const res = response as { header?: (n: string, v: string) => unknown; setHeader?: (n: string, v: string) => unknown } | undefined;
  if (res === undefined || res === null) return;
  if (typeof res.header === 'function') res.header(name, value);
  else if (typeof res.setHeader === 'function') res.setHeader(name, value);
}
