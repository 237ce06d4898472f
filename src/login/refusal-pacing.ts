import { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Carrier } from '../call/carrier.js';

/** The backoff doubles per refusal in a row, up to 2^(MAX_STREAK - 1) = 8 times. */
const MAX_STREAK = 4;
/** A request this close to the end of its `Retry-After` counts as on time: timers and clocks are not exact. */
const ON_TIME_SLACK_MS = 50;
/**
 * No answer is held longer than this, whatever `pacingMs` × backoff gives: proxies give up on an upstream after
 * 60 s by default (nginx `proxy_read_timeout`, AWS ALB idle timeout), and a held refusal must reach its client.
 */
export const MAX_HOLD_MS = 30_000;
/** Clients whose streak is remembered at once; beyond it the oldest is forgotten (memory bounded whatever arrives). */
const MAX_CLIENTS = 100_000;

/** What one client's refusals left behind. */
interface Streak {
  /** Refusals in a row, each before the last one's `Retry-After` ended. */
  count: number;
  /** When the last one's `Retry-After` ends (Date.now() scale): a refusal before it came early. */
  until: number;
}

/** The response of an HTTP call (Express's `res`, Fastify's `reply.raw`, HTTP/2's compatibility response). */
interface ClosableResponse {
  writableFinished?: boolean;
  destroyed?: boolean;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
}

/**
 * The response to wait on, and the HTTP/1 socket of a call. The socket only for a node:http response: an HTTP/2
 * stream shares its connection with other streams (and, behind a proxy, with other users), so it is never paused.
 */
function httpOf(carrier: Carrier | undefined): { socket?: Socket; response?: ClosableResponse } {
  if (carrier === undefined) return {};
  const res = carrier.response as { raw?: unknown } | undefined;
  const candidate = (res instanceof ServerResponse ? res : res?.raw) ?? res;
  const response =
    typeof candidate === 'object' && candidate !== null && typeof (candidate as ClosableResponse).once === 'function'
      ? (candidate as ClosableResponse)
      : undefined;
  const socket = response instanceof ServerResponse && response.socket instanceof Socket ? response.socket : undefined;
  return { socket, response };
}

const HOLDS = Symbol('nest-auth:held-refusals');
/** Held answers on this socket, and whether it was this module that stopped reading it. */
type HeldSocket = Socket & { [HOLDS]?: { count: number; paused: boolean } };

/**
 * Refusal pacing, per client (`ip`: the address the throttle counts, `trust proxy` honoured), never per
 * connection. A refused (429/503) or, while the password checks are all taken, failed (401) login keeps its own
 * request waiting for the pause before its answer goes out: the connection stays busy with that one request, so
 * a client that ignores `Retry-After` cannot re-send on it, and a reverse proxy's keep-alive pool sends every
 * other user's request over another connection. Nothing else waits: no connection is paused after an answer
 * (behind a proxy a connection carries many users), no HTTP/2 session is paused, no other message of a WebSocket
 * or a broker waits.
 *
 * While an HTTP/1 answer is held its socket is not read: the only requests that could come on it meanwhile are the
 * same client's pipelined ones (proxies do not pipeline), which then cannot be parsed by the thousand behind it.
 */
export class RefusalPacing {
  private readonly streaks = new Map<string, Streak>();
  private readonly held = new Set<() => void>();

  /**
   * @param crowd Answers held at once beyond which the refusals are a crowd's (a flood from many addresses, where
   * no one address re-sends early enough to be backed off): from `crowd` held answers every new hold is doubled,
   * from 2 × `crowd` × 4, from 4 × `crowd` × 8 (`LoginService` gives 4 × the password-check queue's places).
   */
  constructor(
    private readonly pacingMs: number,
    private readonly crowd = Infinity,
  ) {}

  get enabled(): boolean {
    return this.pacingMs > 0;
  }

  /** Answers held right now (for tests and metrics). */
  get holding(): number {
    return this.held.size;
  }

  /**
   * Before a 429/503 answer: counts this client's streak, and holds the call for between half the pause and all
   * of it (`pacingMs`, doubled per refusal in a row that came before the last one's `Retry-After` ended, up to 8×;
   * never beyond `Retry-After`, nor `MAX_HOLD_MS`). A client that waits as told, or logs in, starts again at 1.
   * Returns the `Retry-After` to answer with, in seconds: the one given, or, when `retryAfterGrows` (a busy
   * queue), its backed-off multiple.
   */
  async refusal(carrier: Carrier | undefined, ip: string | undefined, retryAfterSeconds: number, retryAfterGrows: boolean): Promise<number> {
    if (!this.enabled) return retryAfterSeconds;
    const count = ip === undefined ? 1 : this.nextCount(ip);
    const factor = Math.max(2 ** (count - 1), this.crowdFactor());
    const retryAfter = retryAfterGrows ? retryAfterSeconds * factor : retryAfterSeconds;
    const holdMs = Math.min(this.pacingMs * factor, retryAfter * 1000, MAX_HOLD_MS);
    // Its Retry-After counts from the answer, which goes out after the hold.
    if (ip !== undefined) this.remember(ip, { count, until: Date.now() + holdMs + retryAfter * 1000 });
    await this.hold(carrier, holdMs);
    return retryAfter;
  }

  /**
   * After a failed login while others wait for a password check: its answer is held `pacingMs` (jittered; longer
   * while a crowd is held), no streak.
   */
  async failure(carrier: Carrier | undefined): Promise<void> {
    if (this.enabled) await this.hold(carrier, Math.min(this.pacingMs * this.crowdFactor(), MAX_HOLD_MS));
  }

  /**
   * 1, or 2, 4, 8 while a crowd of answers is held. The per-address streak cannot see a flood from many addresses
   * (each address refused once in a while, none early), and a hold of 1 × `pacingMs` lets hundreds of connections
   * re-send several times a second; the number held at once is what such a flood cannot hide (one per open
   * connection of it, whatever the hold), so longer holds while it lasts slow its re-sends, leave the password
   * checks to the logins that are not its, and end by themselves when it stops. A crowd's holds are bounded like
   * any (`Retry-After`, `MAX_HOLD_MS`) and delay nothing but the held answers.
   */
  private crowdFactor(): number {
    const n = this.held.size;
    if (n < this.crowd) return 1;
    return n < 2 * this.crowd ? 2 : n < 4 * this.crowd ? 4 : 8;
  }

  /** A login from this client succeeded: its next refusal backs off from 1 again. */
  forgive(ip: string | undefined): void {
    if (ip !== undefined) this.streaks.delete(ip);
  }

  /** Lets every held answer go at once (the app is shutting down). */
  releaseAll(): void {
    for (const release of [...this.held]) release();
  }

  /** This refusal's place in the client's streak: 1, 2, 3, 4 (× 1, 2, 4, 8), and 4 from there on. */
  private nextCount(ip: string): number {
    const last = this.streaks.get(ip);
    const early = last !== undefined && Date.now() < last.until - ON_TIME_SLACK_MS;
    return early ? Math.min(last.count + 1, MAX_STREAK) : 1;
  }

  private remember(ip: string, streak: Streak): void {
    // Re-inserted so the map stays in order of last refusal: the first entry is the one to forget.
    this.streaks.delete(ip);
    this.streaks.set(ip, streak);
    if (this.streaks.size > MAX_CLIENTS) {
      const now = Date.now();
      for (const [key, s] of this.streaks) {
        if (this.streaks.size <= MAX_CLIENTS && s.until > now) break;
        this.streaks.delete(key);
      }
    }
  }

  /**
   * Waits between half of `ms` and all of it (jittered: clients refused in one burst do not come back in one),
   * or until the client has gone. The HTTP/1 socket is not read meanwhile.
   */
  private hold(carrier: Carrier | undefined, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    const { socket, response } = httpOf(carrier);
    if (response?.destroyed === true || response?.writableFinished === true || socket?.destroyed === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        response?.removeListener('close', release);
        this.held.delete(release);
        if (socket !== undefined) unpause(socket);
        resolve();
      };
      const timer = setTimeout(release, ms / 2 + Math.random() * (ms / 2));
      // An app that is closing does not wait for a refusal's pause.
      timer.unref();
      this.held.add(release);
      // The client went away (for a paused socket, noticed at the latest when the answer is written).
      response?.once('close', release);
      if (socket !== undefined) pause(socket);
    });
  }
}

function pause(socket: HeldSocket): void {
  const holds = (socket[HOLDS] ??= { count: 0, paused: false });
  // A socket node:http has paused itself (its answers backed up) is left to node:http to resume.
  if (holds.count++ === 0 && !socket.isPaused()) {
    holds.paused = true;
    socket.pause();
  }
}

function unpause(socket: HeldSocket): void {
  const holds = socket[HOLDS];
  if (holds === undefined || --holds.count > 0) return;
  if (holds.paused && !socket.destroyed) socket.resume();
  holds.paused = false;
}
