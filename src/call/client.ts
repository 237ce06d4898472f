import type { IncomingMessage } from 'node:http';
import type { AuthTarget, Carrier } from './carrier.js';

/** The part of a Node socket (net.Socket, tls.TLSSocket) the module reads. */
export interface NodeSocket {
  remoteAddress?: string;
  encrypted?: boolean;
  destroyed?: boolean;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
}

/**
 * @nestjs/platform-ws hands the upgrade request to `handleConnection(client, request)`
 * only: message handlers see the bare WebSocket. `TransportAuth.acceptWs()`
 * records it here so every later message of that client finds its headers and its address.
 */
const upgradeRequests = new WeakMap<object, IncomingMessage>();

export function rememberUpgradeRequest(client: object, request: IncomingMessage): void {
  upgradeRequests.set(client, request);
}

/** The upgrade request `acceptWs()` recorded for this ws client. */
export function upgradeRequestOf(client: object): IncomingMessage | undefined {
  return upgradeRequests.get(client);
}

interface SocketHolder {
  socket?: unknown;
  /** Fastify's request wraps Node's as `raw`. */
  raw?: { socket?: unknown };
  /** ws's WebSocket keeps its socket here. */
  _socket?: unknown;
}

function isSocket(value: unknown): value is Partial<NodeSocket> {
  return typeof value === 'object' && value !== null;
}

/**
 * The Node socket a call's target came in on, wherever the transport keeps it: the request's (Express's
 * IncomingMessage, Fastify's `raw`), a ws WebSocket's own, or for a ws client the upgrade request's. The one
 * lookup of it: the client's address, the client-gone signal and the scheme read it from here. Undefined for a
 * target that has none (an RPC context, graphql-ws's context, a socket.io socket: see `handshakeRequestOf`).
 */
export function nodeSocketOf(target: object | undefined): Partial<NodeSocket> | undefined {
  if (target === undefined || target === null) return undefined;
  const t = target as SocketHolder;
  if (isSocket(t.socket)) return t.socket;
  if (isSocket(t.raw?.socket)) return t.raw.socket;
  if (isSocket(t._socket)) return t._socket;
  return undefined;
}

function isIncoming(value: unknown): value is IncomingMessage {
  return typeof value === 'object' && value !== null && typeof (value as IncomingMessage).headers === 'object' && 'socket' in value;
}

/**
 * The HTTP request that opened a realtime connection: socket.io's `Socket#request` (the handshake), graphql-ws's
 * `extra.request` with its `ws` server, or the upgrade request `acceptWs()` recorded for a ws client.
 */
export function handshakeRequestOf(target: object | undefined): IncomingMessage | undefined {
  if (target === undefined || target === null) return undefined;
  const t = target as { request?: unknown; extra?: { request?: unknown } };
  if (isIncoming(t.request)) return t.request;
  const extra = typeof t.extra === 'object' && t.extra !== null ? t.extra.request : undefined;
  if (isIncoming(extra)) return extra;
  return upgradeRequests.get(target);
}

/**
 * The address the call came from as the network saw it: the peer of its socket (the handshake's for a realtime
 * connection). Never a forwarded header: which proxies to trust is the app's setting (`trust proxy`), read where
 * the address is counted.
 */
export function peerAddressOf(target: object | undefined): string | undefined {
  return nodeSocketOf(target)?.remoteAddress ?? nodeSocketOf(handshakeRequestOf(target))?.remoteAddress;
}

/** The caller's address and user agent, for session rows and audit events. */
export function clientOf(carrier: Carrier | undefined): { ip?: string; userAgent?: string } {
  if (carrier === undefined) return {};
  const target: AuthTarget = carrier.target;
  const ua = carrier.headers?.['user-agent'];
  return {
    ip: typeof target.ip === 'string' ? target.ip : nodeSocketOf(target)?.remoteAddress,
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined,
  };
}
