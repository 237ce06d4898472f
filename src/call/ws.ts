import type { ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import { bodyOf, statusOf, type TransportErrorBody } from '../errors/bodies.js';
import { DEFAULT_CARRIER_OPTIONS, plainHeaders, transportCarrier, withToken, type CarrierOptions, type TransportCarrier } from './carrier.js';
import { upgradeRequestOf } from './client.js';
import { transportPeers } from './peers.js';
import type { Transport } from './transport.js';

/** The part of a socket.io `Socket` the module reads (typed here: socket.io is an optional peer). */
export interface SocketIoClient {
  id: string;
  handshake: { headers?: unknown; auth?: Record<string, unknown>; query?: Record<string, unknown> };
  emit(event: string, ...args: unknown[]): unknown;
  disconnect(close?: boolean): unknown;
  [key: string]: unknown;
}

/** The part of a `ws` WebSocket the module reads. */
export interface WsClient {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  [key: string]: unknown;
}

export function isSocketIoClient(client: unknown): client is SocketIoClient {
  return typeof client === 'object' && client !== null && typeof (client as SocketIoClient).handshake === 'object';
}

export function isWsClient(client: unknown): client is WsClient {
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof (client as WsClient).readyState === 'number' &&
    typeof (client as WsClient).send === 'function'
  );
}

/**
 * WebSocket gateways. socket.io: the handshake's `Authorization` header and
 * `auth.token` (what browsers can send: they cannot set headers on a
 * WebSocket), and `?token=` only with `allowQueryToken` (see CarrierOptions).
 * ws: the upgrade request's headers. The client object is the request.
 */
export function wsCarrier(ctx: ExecutionContext, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS): TransportCarrier | undefined {
  return wsClientCarrier(ctx.switchToWs().getClient(), options);
}

export function wsClientCarrier(client: unknown, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS): TransportCarrier | undefined {
  if (isSocketIoClient(client)) {
    const handshake = client.handshake;
    const headers = plainHeaders(handshake.headers);
    withToken(headers, handshake.auth?.token, options);
    if (options.allowQueryToken) withToken(headers, handshake.query?.token, options);
    return transportCarrier('ws', client, headers);
  }
  if (isWsClient(client)) {
    return transportCarrier('ws', client, plainHeaders(upgradeRequestOf(client)?.headers));
  }
  return undefined;
}

/** WebSocket gateways: the client is the call; a refusal is a `WsException`. */
export const WS_TRANSPORT: Transport = {
  carrier: wsCarrier,
  target: (ctx) => ctx.getArgByIndex(0),
  failure: (err) => toWsException(err),
};

/**
 * A message handler's failure as the client receives it. Nest's
 * BaseWsExceptionFilter answers anything but a WsException with
 * "Internal server error" (and logs it as an error); a WsException whose
 * error is an object is emitted as is: socket.io event `exception` with
 * `{ status: 'error', code, message }`, ws message `{ event: 'exception', data: … }`.
 */
export function toWsException(err: AuthError): Error {
  const body = { status: 'error', ...bodyOf(err) };
  const WsException = transportPeers().WsException;
  if (WsException === undefined) throw new Error('@nestjs/websockets is not loaded: call loadTransportPeers() at boot');
  return new WsException(body);
}

/**
 * A socket.io connection refused by the middleware: the client's
 * `connect_error` handler gets an Error whose `message` is the public message
 * and whose `data` is `{ code, message }`.
 */
export function toSocketIoConnectError(err: AuthError): Error & { data: TransportErrorBody } {
  const body = bodyOf(err);
  return Object.assign(new Error(body.message), { data: body });
}

/** Close code of a ws connection refused or ended by the module (4000 + HTTP status, reason = API.md code). */
export function wsCloseOf(err: AuthError): { code: number; reason: string } {
  return { code: 4000 + statusOf(err.code), reason: err.code };
}
