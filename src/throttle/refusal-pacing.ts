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
export const MAX_BACKOFF_FACTOR = 8;
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
function earlyAgain(pacing: Pacing | undefined): pacing is Pacing {
  return pacing !== undefined && Date.now() < pacing.until - ON_TIME_SLACK_MS;
}

/**
 * The factor (1, 2, 4, 8) by which the next refusal on this call's connection backs off: doubled for each
 * refusal in a row before it, each one sent again before the last `Retry-After` ended. A client that re-sends
 * at once, whatever `Retry-After` said, is held longer each time; one that waits as told, gets past the
 * throttle (`forgiveConnection`), or uses another connection starts again at 1. 1 outside node:http.
 */
export function backoffFactor(carrier: Carrier | undefined): number {
  const pacing = httpOf(carrier)?.socket[PACING];
  return earlyAgain(pacing) ? Math.min(2 ** pacing.streak, MAX_BACKOFF_FACTOR) : 1;
}

/** A login on this connection got past the throttle and the queue: its next refusal backs off from 1 again. */
export function forgiveConnection(carrier: Carrier | undefined): void {
  const pacing = httpOf(carrier)?.socket[PACING];
  if (pacing !== undefined) pacing.streak = 0;
}

/**
 * After a 429/503 refusal: the answer goes out at once, then the connection it
 * went out on is not read for `delayMs` (from half of it: jittered). A client that ignores `Retry-After` and
 * re-sends at once on its keep-alive connection waits there, at no CPU cost
 * (no request is parsed, no timer runs per byte), instead of making the event
 * loop answer thousands of refusals a second. One timer per paced connection;
 * a connection already paced is not paced twice. The refusal counts toward the
 * connection's streak (`backoffFactor`) when it came before the last one's `Retry-After` ended. A client that closes the connection
 * gets its answer and opens a new one (a TCP handshake, then the same cheap refusal).
 */
export function paceRefusedConnection(carrier: Carrier | undefined, delayMs: number, retryAfterSeconds: number): void {
  if (delayMs <= 0) return;
  const found = httpOf(carrier);
  if (found === undefined) return;
  const { socket, response } = found;
  if (socket.destroyed) return;
  const early = earlyAgain(socket[PACING]);
  const pacing: Pacing = (socket[PACING] ??= { paused: false, streak: 0, until: 0 });
  pacing.streak = early ? pacing.streak + 1 : 1;
  pacing.until = Date.now() + retryAfterSeconds * 1000;
  pauseAfterAnswer(socket, response, pacing, delayMs);
}

/**
 * After a failed login while others wait for a password check: the 401 goes out at once, then the connection is
 * not read for `delayMs` (jittered). A client that re-sends at once would otherwise take the place in the queue
 * that its own check just freed, ahead of every client arriving at any other moment: a flood's connections would
 * keep the queue to themselves. No streak: a 401 is an answer, not a refusal.
 */
export function paceFailedLogin(carrier: Carrier | undefined, delayMs: number): void {
  if (delayMs <= 0) return;
  const found = httpOf(carrier);
  if (found === undefined || found.socket.destroyed) return;
  const pacing: Pacing = (found.socket[PACING] ??= { paused: false, streak: 0, until: 0 });
  pauseAfterAnswer(found.socket, found.response, pacing, delayMs);
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
