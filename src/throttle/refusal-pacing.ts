import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Carrier } from '../transports/carrier.js';

const PACED = Symbol('nest-auth:paced');

type PacedSocket = Socket & { [PACED]?: true };

/** The node:http socket and response of a call: Express's req/res, Fastify's `request.raw`/`reply.raw`. */
function httpOf(carrier: Carrier | undefined): { socket: PacedSocket; response: ServerResponse } | undefined {
  if (carrier === undefined) return undefined;
  const target = carrier.target as { socket?: unknown; raw?: { socket?: unknown } };
  const socket = target.socket ?? target.raw?.socket;
  const res = carrier.response as { raw?: unknown } | undefined;
  const response = res instanceof ServerResponse ? res : res?.raw;
  // Only a node:http connection of its own: an HTTP/2 stream shares its connection, a WebSocket or
  // an RPC message has no response to wait for (nothing is paced there).
  if (!(socket instanceof Socket) || !(response instanceof ServerResponse)) return undefined;
  return { socket, response };
}

/**
 * After a 429/503 refusal: the answer goes out at once, then the connection it
 * went out on is not read for `delayMs` (from half of it: jittered). A client that ignores `Retry-After` and
 * re-sends at once on its keep-alive connection waits there, at no CPU cost
 * (no request is parsed, no timer runs per byte), instead of making the event
 * loop answer thousands of refusals a second. One timer per paced connection;
 * a connection already paced is not paced twice. A client that closes the
 * connection gets its answer and opens a new one (a TCP handshake, then the
 * same cheap refusal).
 */
export function paceRefusedConnection(carrier: Carrier | undefined, delayMs: number): void {
  if (delayMs <= 0) return;
  const found = httpOf(carrier);
  if (found === undefined) return;
  const { socket, response } = found;
  if (socket.destroyed || socket[PACED]) return;
  socket[PACED] = true;
  let timer: NodeJS.Timeout | undefined;
  const resume = () => {
    clearTimeout(timer);
    socket.removeListener('close', resume);
    socket[PACED] = undefined;
    if (!socket.destroyed) socket.resume();
  };
  const pause = () => {
    // After node:http's own end-of-response work (which may resume the socket to drain the request).
    setImmediate(() => {
      if (socket.destroyed || !socket.readable) {
        socket[PACED] = undefined;
        return;
      }
      socket.pause();
      socket.once('close', resume);
      // Between half the delay and all of it: connections refused in one burst do not all come back in one.
      timer = setTimeout(resume, delayMs / 2 + Math.random() * (delayMs / 2));
      timer.unref();
    });
  };
  if (response.writableFinished) pause();
  else response.once('finish', pause);
}
