import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Carrier } from '../transports/carrier.js';

const PACING = Symbol('nest-auth:pacing');

/** What one connection's refusals left on it. */
interface Pacing {
  /** A pause is in place now (a connection is never paced twice at once). */
  paused: boolean;
  /** Refusals in a row on this connection, with none of its logins getting past the throttle between. */
  streak: number;
  /** When the last one's `Retry-After` ends (Date.now() scale): a refused request before it came early. */
  until: number;
}

type PacedSocket = Socket & { [PACING]?: Pacing };

/** The backoff doubles per refusal in a row, up to this factor. */
const MAX_BACKOFF_FACTOR = 8;
/** A request this close to the end of its `Retry-After` counts as on time: timers and clocks are not exact. */
const ON_TIME_SLACK_MS = 50;

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

/** A streak goes on only while the client comes back before its last `Retry-After` ended. */
function earlyAgain(pacing: Pacing): boolean {
  return Date.now() < pacing.until - ON_TIME_SLACK_MS;
}

function pacingOf(socket: PacedSocket): Pacing {
  return (socket[PACING] ??= { paused: false, streak: 0, until: 0 });
}

/** A login on this connection got past the throttle and the queue: its next refusal backs off from 1 again. */
export function forgiveConnection(carrier: Carrier | undefined): void {
  const pacing = httpOf(carrier)?.socket[PACING];
  if (pacing !== undefined) pacing.streak = 0;
}

/**
 * After a 429/503 refusal: the answer goes out at once, then the connection it went out on is not read for
 * `pacingMs` (from half of it: jittered; never beyond `Retry-After`). A client that ignores `Retry-After` and
 * re-sends at once on its keep-alive connection waits there, at no CPU cost (no request is parsed, no timer runs
 * per byte), instead of making the event loop answer thousands of refusals a second. One timer per paced
 * connection; a connection already paced is not paced twice.
 *
 * Each refusal in a row on one connection, re-sent before the last one's `Retry-After` ended, doubles the pause
 * (1, 2, 4, 8 ×) and, when `retryAfterGrows` (a busy queue), the `Retry-After` too. A client that waits as told,
 * gets past the throttle (`forgiveConnection`) or opens another connection starts again at 1 (a new connection
 * costs it a TCP handshake, then the same cheap refusal).
 *
 * Returns the `Retry-After` to answer with, in seconds: the one given, or its backed-off multiple.
 */
export function paceRefusal(carrier: Carrier | undefined, pacingMs: number, retryAfterSeconds: number, retryAfterGrows: boolean): number {
  const found = pacingMs > 0 ? httpOf(carrier) : undefined;
  if (found === undefined || found.socket.destroyed) return retryAfterSeconds;
  const pacing = pacingOf(found.socket);
  pacing.streak = earlyAgain(pacing) ? pacing.streak + 1 : 1;
  const factor = Math.min(2 ** (pacing.streak - 1), MAX_BACKOFF_FACTOR);
  const retryAfter = retryAfterGrows ? retryAfterSeconds * factor : retryAfterSeconds;
  pacing.until = Date.now() + retryAfter * 1000;
  pauseAfterAnswer(found.socket, found.response, pacing, Math.min(pacingMs * factor, retryAfter * 1000));
  return retryAfter;
}

/**
 * After a failed login while others wait for a password check: the 401 goes out at once, then the connection is
 * not read for `delayMs` (jittered). A client that re-sends at once would otherwise take the place in the queue
 * that its own check just freed, ahead of every client arriving at any other moment: a flood's connections would
 * keep the queue to themselves. No streak: a 401 is an answer, not a refusal.
 */
export function paceFailedLogin(carrier: Carrier | undefined, delayMs: number): void {
  const found = delayMs > 0 ? httpOf(carrier) : undefined;
  if (found === undefined || found.socket.destroyed) return;
  pauseAfterAnswer(found.socket, found.response, pacingOf(found.socket), delayMs);
}

/** Once the answer has gone out, the socket is not read for half of `delayMs` to all of it (or until it closes). */
function pauseAfterAnswer(socket: PacedSocket, response: ServerResponse, pacing: Pacing, delayMs: number): void {
  if (pacing.paused) return;
  pacing.paused = true;
  let timer: NodeJS.Timeout | undefined;
  const resume = () => {
    clearTimeout(timer);
    socket.removeListener('close', resume);
    pacing.paused = false;
    if (!socket.destroyed) socket.resume();
  };
  const pause = () => {
    // After node:http's own end-of-response work (which may resume the socket to drain the request).
    setImmediate(() => {
      if (socket.destroyed || !socket.readable) {
        pacing.paused = false;
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
