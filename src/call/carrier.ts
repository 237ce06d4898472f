import type { ExecutionContext } from '@nestjs/common';
import type { AuthContextData, AuthPrincipal } from './auth-data.js';

/** The object `auth` and `user` are written to: the HTTP request, the GraphQL request, the socket, the RPC context. */
export interface AuthTarget {
  auth?: AuthContextData;
  user?: AuthPrincipal;
  [key: string | symbol]: unknown;
}

/** One call as the guard sees it, whatever the transport. */
export interface Carrier {
  readonly type: string;
  /** Where `auth`/`user` go, and what the request context is bound to. */
  readonly target: AuthTarget;
  /** The credential headers (lower-case names), if the transport has any. */
  readonly headers: Readonly<Record<string, unknown>> | undefined;
  /** The HTTP response, to set `WWW-Authenticate`, `Retry-After` and cookies on. */
  readonly response: unknown;
}

/** The Nest context types the module knows. Anything else is denied. */
export type TransportType = 'http' | 'graphql' | 'ws' | 'rpc';

/** Plain, lower-case header names; a header sent twice (or by two channels that disagree) is an array. */
export type CarrierHeaders = Record<string, string | string[] | undefined>;

/**
 * The carrier of a non-HTTP call: `target` is what `@CurrentUser()` reads and
 * the request context binds to (GraphQL `context.req`, the WebSocket client,
 * the RPC context), `headers` hold every credential the transport carries,
 * folded in from wherever it put them (handshake `auth`, `connectionParams`,
 * NATS headers, a payload field), so the credential sources stay the HTTP ones.
 */
export interface TransportCarrier extends Carrier {
  readonly type: TransportType;
  readonly headers: CarrierHeaders;
}

/** How credentials that do not travel in a header are folded into `headers`. */
export interface CarrierOptions {
  /** `jwt.header` [authorization]. */
  tokenHeader: string;
  /**
   * Read a socket.io handshake's `?token=` query parameter. Off by default:
   * a URL ends up in access logs, proxy logs and browser history, so a token in
   * it leaks where a header or the handshake's `auth` payload does not.
   */
  allowQueryToken: boolean;
}

/** `AuthTransportsModule.forRoot()`'s options, which the core's guards read too (they are optional: no module, the defaults). */
export const TRANSPORT_OPTIONS = Symbol('AUTH_TRANSPORT_OPTIONS');

export interface AuthTransportsOptions {
  /** Accept a socket.io handshake's `?token=` query parameter [false]: URLs are logged by proxies and servers, headers and `auth` are not. */
  allowQueryToken?: boolean;
}

export const DEFAULT_CARRIER_OPTIONS: CarrierOptions = { tokenHeader: 'authorization', allowQueryToken: false };

export type CarrierReader = (ctx: ExecutionContext, options?: CarrierOptions) => TransportCarrier | undefined;

export function transportCarrier(type: TransportType, target: object, headers: CarrierHeaders): TransportCarrier {
  return { type, target: target as AuthTarget, headers, response: undefined };
}

/** Copies a Node/Fastify/ws header map into plain lower-case names (they already are for Node's IncomingMessage). */
export function plainHeaders(source: unknown): CarrierHeaders {
  const out: CarrierHeaders = {};
  if (typeof source !== 'object' || source === null) return out;
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (typeof value === 'string' || Array.isArray(value)) out[name.toLowerCase()] = value as string | string[];
  }
  return out;
}

/**
 * Adds a token that came outside the headers (socket.io `auth.token`,
 * graphql-ws `connectionParams`, an RPC payload field) under the token header,
 * in the header's own format. When the header already holds a different
 * value the result is an array: the credential source refuses it
 * (`token_invalid`) instead of guessing which one was meant.
 */
export function withToken(headers: CarrierHeaders, token: unknown, options: CarrierOptions): CarrierHeaders {
  if (token === undefined || token === null || token === '') return headers;
  const name = options.tokenHeader;
  let value: string | string[];
  if (typeof token !== 'string') {
    value = [String(token), '']; // not a string: malformed, refused as such
  } else if (name === 'authorization') {
    value = /^bearer(\s|$)/i.test(token) ? token : `Bearer ${token}`;
  } else {
    value = token;
  }
  const existing = headers[name];
  if (existing === undefined || existing === '') headers[name] = value;
  else if (existing !== value) headers[name] = ([] as string[]).concat(existing, value);
  return headers;
}
