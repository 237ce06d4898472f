import type { ExecutionContext } from '@nestjs/common';
import type { AuthContextData } from './auth-data.js';
import type { Carrier } from './carrier.js';
import type { RoutePolicy } from './policy.js';
import { targetOf } from './transports.js';

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
  const target = targetOf(ctx);
  if (target === undefined) return undefined;
  const record = recordedCall(target);
  if (record === undefined || !record.guarded) return undefined;
  target[CALL] = undefined;
  return record.handler === ctx.getHandler() ? record : undefined;
}
