import type { RevocationChangeKind } from './revocation.entities.js';

/** Injection token of the push channel (`RevocationChannel`). */
export const REVOCATION_CHANNEL = Symbol.for('@democrai/nest-auth:REVOCATION_CHANNEL');

/**
 * What one instance tells the others right after its write committed. The
 * receivers take it as a hint to read the store now, never as state: anyone
 * who can reach the channel's server can publish one. The fields describe the
 * change for logs and custom channels; the gate uses only `origin`.
 */
export interface RevocationEvent {
  kind: RevocationChangeKind;
  /** jti, session id or user id. */
  subject: string;
  /** Epoch ms. jti: the token's expiry; session: when it ended; cutoff: the cut-off. */
  at: number;
  /** The publishing instance: it applied the change already and ignores its own echo. */
  origin: string;
}

/** How a channel reports to the gate. */
export interface RevocationChannelListener {
  /** A message arrived: the gate reads its store soon (a hint, whoever sent it; nothing of it is kept). */
  event(event: RevocationEvent): void;
  /** The channel is connected and proved to deliver (on connect and after each heartbeat). */
  alive(): void;
  /** The channel lost its connection or a heartbeat did not come back in time. */
  down(reason: string): void;
}

export interface RevocationChannelStartOptions {
  /** How often to prove the subscription still delivers. */
  heartbeatMs: number;
  /** A heartbeat or connect slower than this counts as down. */
  timeoutMs: number;
}

/**
 * Tells every instance at once that a revocation, an ended session or a
 * cut-off was written, so they read the store now instead of at their next
 * poll. A channel only speeds things up: the gate polls every
 * `syncIntervalMs` whatever the channel's state, and only a read of the store
 * changes what it refuses.
 */
export interface RevocationChannel {
  readonly name: string;
  /** Connects and subscribes; keeps reconnecting (with back-off) until `stop`. Never throws for a server that is down. */
  start(listener: RevocationChannelListener, options: RevocationChannelStartOptions): Promise<void>;
  /** Sends an event to every subscribed instance; rejects if it could not be handed to the server. */
  publish(event: RevocationEvent): Promise<void>;
  stop(): Promise<void>;
}

const KINDS: ReadonlySet<string> = new Set(['jti', 'session', 'cutoff']);

export function encodeEvent(event: RevocationEvent): string {
  return JSON.stringify([event.kind, event.subject, event.at, event.origin]);
}

/** Longer than any message of ours: not worth parsing. */
const MAX_MESSAGE_LENGTH = 1024;

/** Decodes a message, or undefined for anything that is not one of ours (never throws on input from the wire). */
export function decodeEvent(text: string): RevocationEvent | undefined {
  if (typeof text !== 'string' || text.length > MAX_MESSAGE_LENGTH) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v) || v.length !== 4) return undefined;
    const [kind, subject, at, origin] = v as unknown[];
    if (typeof kind !== 'string' || !KINDS.has(kind) || typeof subject !== 'string' || typeof origin !== 'string') return undefined;
    if (typeof at !== 'number' || !Number.isFinite(at)) return undefined;
    return { kind: kind as RevocationChangeKind, subject, at, origin };
  } catch {
    return undefined;
  }
}

/** Reconnect delays: 100 ms doubling to 5 s, with jitter so instances do not reconnect in lock-step. */
export function backoffMs(attempt: number): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
