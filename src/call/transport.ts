import type { ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import type { Carrier, CarrierOptions } from './carrier.js';

/**
 * What the module needs to know of one Nest transport (`ctx.getType()`), in one
 * place: where a call's credentials are (its carrier), which object stands
 * for the call (where `auth`/`user` and the call record go), and what a
 * refusal becomes for that transport's client.
 */
export interface Transport {
  /** The call's carrier; undefined for a call this transport cannot read (it is denied). */
  carrier(ctx: ExecutionContext, options: CarrierOptions): Carrier | undefined;
  /** The object that stands for the call (the request, the GraphQL request, the socket, the RPC context). */
  target(ctx: ExecutionContext): unknown;
  /**
   * The refusal as this transport's client receives it, thrown by the guard or by `AuthService`.
   * `tokenPresented`: for a guard's refusal of a credential, whether one was sent (HTTP's challenge); undefined
   * for a refusal that is not about the credential of the call.
   */
  failure(err: AuthError, carrier: Carrier | undefined, tokenPresented?: boolean): unknown;
}
