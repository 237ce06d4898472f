import type { AuthTarget as AuthCarrier } from '../call/carrier.js';
import { nodeSocketOf, type NodeSocket } from '../call/client.js';

function socketOf(carrier: AuthCarrier | undefined): NodeSocket | undefined {
  const socket = nodeSocketOf(carrier);
  return socket && typeof socket.once === 'function' ? (socket as NodeSocket) : undefined;
}

/**
 * An AbortSignal that fires when the client of this HTTP request closes its
 * connection, so a login still waiting for a password check is dropped instead
 * of hashing for nobody. Undefined for transports without a socket.
 * `dispose()` removes the listener once the check is over (keep-alive sockets
 * serve many requests).
 */
export function clientSignal(carrier: AuthCarrier | undefined): { signal: AbortSignal; dispose(): void } | undefined {
  const socket = socketOf(carrier);
  if (!socket) return undefined;
  const controller = new AbortController();
  if (socket.destroyed) {
    controller.abort();
    return { signal: controller.signal, dispose: () => undefined };
  }
  const onClose = () => controller.abort();
  socket.once('close', onClose);
  return { signal: controller.signal, dispose: () => socket.removeListener('close', onClose) };
}
