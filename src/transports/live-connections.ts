import type { AuthContextData } from '../call/auth-data.js';
import type { AuthErrorCode } from '../errors/auth-error.js';

/** The claims a revocation verdict needs, as the gate takes them. */
export interface LiveClaims {
  jti: string;
  sid?: string;
  sub: string;
  iat: number;
  exp: number;
}

/** The verdict of the gate for one token: null while it stands. */
export type LiveCheck = (claims: LiveClaims) => 'token_revoked' | 'auth_unavailable' | null | Promise<'token_revoked' | 'auth_unavailable' | null>;

/** Whether the API key of this public prefix may still be used (read from its store); rejects if the store fails. */
export type LiveKeyCheck = (prefix: string) => Promise<boolean>;

interface Entry {
  claims: LiveClaims;
  end: (code: AuthErrorCode) => void;
  expiry: NodeJS.Timeout | undefined;
}

/** A connection opened with an API key: known by the key's public prefix (its secret is not kept). */
interface KeyEntry {
  prefix: string;
  end: (code: AuthErrorCode) => void;
}

/**
 * The authenticated realtime connections of this instance (socket.io and ws
 * sockets, graphql-ws connections), so that a revocation reaches them and not
 * only their next message. Each sweep asks the gate about every connection's
 * token: in `cached` mode that is a few Map look-ups per connection, no I/O;
 * every instance sweeps its own connections after its own poll, so a
 * revocation written anywhere ends them within the poll interval (plus one
 * sweep without the gate's change hook). An expiry timer ends a connection
 * when its token expires. Only `token_revoked` ends a connection: an
 * unavailable store refuses its messages (the guard) but does not cut everyone off.
 */
export class LiveConnections {
  private readonly entries = new Map<object, Entry>();
  private readonly keyEntries = new Map<object, KeyEntry>();
  private sweeping = false;
  private sweepingKeys = false;

  constructor(
    private readonly check: LiveCheck,
    private readonly clockToleranceSeconds = 0,
    private readonly now: () => number = Date.now,
    private readonly checkKey?: LiveKeyCheck,
  ) {}

  get size(): number {
    return this.entries.size + this.keyEntries.size;
  }

  /** How many connections were opened with an API key. */
  get keyConnections(): number {
    return this.keyEntries.size;
  }

  /**
   * Tracks a connection opened with the API key of `prefix` until `remove`:
   * `sweepKeys` ends it once the key is revoked or expired. A key's state is
   * in the key store, not in the revocation gate, so it is read there.
   */
  addApiKey(connection: object, prefix: string, end: (code: AuthErrorCode) => void): void {
    this.remove(connection);
    this.keyEntries.set(connection, { prefix, end });
  }

  /**
   * Reads each distinct key of the tracked connections once and ends the
   * connections of a key that may no longer be used (`api_key_invalid`). A key
   * whose read fails keeps its connections (a store outage does not cut
   * everyone off; their messages are refused by the guard meanwhile).
   */
  async sweepKeys(): Promise<number> {
    if (this.sweepingKeys || this.keyEntries.size === 0 || this.checkKey === undefined) return 0;
    this.sweepingKeys = true;
    let ended = 0;
    try {
      const prefixes = new Set([...this.keyEntries.values()].map((e) => e.prefix));
      const dead = new Set<string>();
      await Promise.all(
        [...prefixes].map(async (prefix) => {
          const usable = await this.checkKey!(prefix).catch(() => true);
          if (!usable) dead.add(prefix);
        }),
      );
      if (dead.size === 0) return 0;
      for (const [connection, entry] of [...this.keyEntries]) {
        if (!dead.has(entry.prefix) || this.keyEntries.get(connection) !== entry) continue;
        this.keyEntries.delete(connection);
        ended++;
        try {
          entry.end('api_key_invalid');
        } catch {
          // A socket that is already gone: nothing left to end.
        }
      }
    } finally {
      this.sweepingKeys = false;
    }
    return ended;
  }

  /** Tracks `connection` (any object identifying it) until `remove`, or until it is ended. API-key and claim-less contexts are not tracked. */
  add(connection: object, auth: AuthContextData, end: (code: AuthErrorCode) => void): void {
    const claims = liveClaimsOf(auth);
    if (claims === undefined) return;
    this.remove(connection);
    const entry: Entry = { claims, end, expiry: undefined };
    const msLeft = (claims.exp + this.clockToleranceSeconds) * 1000 - this.now();
    if (msLeft <= 0) {
      end('token_expired');
      return;
    }
    // setTimeout holds at most ~24.8 days; tokens living longer are caught by a later sweep.
    entry.expiry = setTimeout(() => this.finish(connection, 'token_expired'), Math.min(msLeft, 2 ** 31 - 1));
    entry.expiry.unref();
    this.entries.set(connection, entry);
  }

  remove(connection: object): void {
    this.keyEntries.delete(connection);
    const entry = this.entries.get(connection);
    if (entry === undefined) return;
    clearTimeout(entry.expiry);
    this.entries.delete(connection);
  }

  /** Ends every connection whose token the gate now refuses. Call after each gate poll (and after a local revocation). */
  async sweep(): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let ended = 0;
    try {
      const nowSeconds = this.now() / 1000;
      for (const [connection, entry] of [...this.entries]) {
        if (entry.claims.exp + this.clockToleranceSeconds <= nowSeconds) {
          this.finish(connection, 'token_expired');
          ended++;
          continue;
        }
        let verdict: Awaited<ReturnType<LiveCheck>>;
        try {
          // `cached` mode answers synchronously: no microtask per connection then.
          const answer = this.check(entry.claims);
          verdict = answer instanceof Promise ? await answer : answer;
        } catch {
          continue;
        }
        if (verdict === 'token_revoked' && this.entries.get(connection) === entry) {
          this.finish(connection, 'token_revoked');
          ended++;
        }
      }
    } finally {
      this.sweeping = false;
    }
    return ended;
  }

  /** Stops every timer (app shutdown); the connections themselves are closed by their servers. */
  clear(): void {
    for (const entry of this.entries.values()) clearTimeout(entry.expiry);
    this.entries.clear();
    this.keyEntries.clear();
  }

  private finish(connection: object, code: AuthErrorCode): void {
    const entry = this.entries.get(connection);
    if (entry === undefined) return;
    this.remove(connection);
    try {
      entry.end(code);
    } catch {
      // A socket that is already gone: nothing left to end.
    }
  }
}

export function liveClaimsOf(auth: AuthContextData): LiveClaims | undefined {
  const c = auth.claims as Partial<LiveClaims> | undefined;
  if (auth.backend !== 'jwt' || c === undefined) return undefined;
  if (typeof c.sub !== 'string' || typeof c.iat !== 'number' || typeof c.exp !== 'number') return undefined;
  // A trusted issuer's token may have no jti (the cut-off and the expiry still reach it), and its sid is the
  // provider's session, not one of the module's: the session is the authentication's.
  return { jti: typeof c.jti === 'string' ? c.jti : '', sid: auth.sessionId, sub: c.sub, iat: c.iat, exp: c.exp };
}
