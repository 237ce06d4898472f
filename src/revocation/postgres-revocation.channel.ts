import { Logger } from '@nestjs/common';
import { AuthConfigError } from '../errors/auth-error.js';
import { withTimeout } from '../persistence/bounded-store.js';
import {
  backoffMs,
  decodeEvent,
  encodeEvent,
  type RevocationChannel,
  type RevocationChannelListener,
  type RevocationChannelStartOptions,
  type RevocationEvent,
} from './revocation-channel.js';

/** The part of a `pg` client configuration the channel passes on (pg is an optional peer: no import of its types). */
export interface ClientConfig {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  ssl?: unknown;
  [more: string]: unknown;
}

interface Notification {
  channel: string;
  payload?: string;
}

/** The part of `pg.Client` the channel uses. */
interface Client {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'notification', fn: (msg: Notification) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
  on(event: 'end', fn: () => void): this;
  removeAllListeners(event: string): this;
}

export interface PostgresRevocationChannelOptions {
  /** How to reach the server: a `pg` client configuration (or a connection string). */
  connection: ClientConfig | string;
  /** The LISTEN/NOTIFY channel ['nest_auth_revocation']; instances that share a database must agree. */
  channel?: string;
}

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * PostgreSQL LISTEN/NOTIFY on one dedicated connection (never a pooled one:
 * a pool would hand the LISTEN to whoever takes the connection next). The
 * connection is re-made with back-off when it drops, and a `SELECT 1` every
 * heartbeat proves it still answers: a black-holed path is noticed within
 * `heartbeatMs + timeoutMs`, not when TCP gives up minutes later.
 */
export class PostgresRevocationChannel implements RevocationChannel {
  readonly name = 'postgres';
  private readonly channel: string;
  private client: Client | undefined;
  private listener: RevocationChannelListener | undefined;
  private options: RevocationChannelStartOptions = { heartbeatMs: 1000, timeoutMs: 2000 };
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly logger = new Logger('RevocationChannel');

  constructor(private readonly config: PostgresRevocationChannelOptions) {
    this.channel = config.channel ?? 'nest_auth_revocation';
    if (!CHANNEL_NAME.test(this.channel))
      throw new AuthConfigError('revocation.channel', 'the PostgreSQL channel name must be a lower-case SQL identifier');
  }

  async start(listener: RevocationChannelListener, options: RevocationChannelStartOptions): Promise<void> {
    this.listener = listener;
    this.options = options;
    this.stopped = false;
    await this.connect();
  }

  async publish(event: RevocationEvent): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('not connected');
    await client.query('SELECT pg_notify($1, $2)', [this.channel, encodeEvent(event)]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const client = this.client;
    this.client = undefined;
    if (client) await withTimeout(client.end(), this.options.timeoutMs).catch(() => destroy(client));
  }

  private async connect(): Promise<void> {
    type PgModule = { Client: new (config: ClientConfig) => Client };
    let Pg: PgModule;
    try {
      const pg = (await import('pg' as string)) as PgModule & { default?: PgModule };
      Pg = pg.default ?? pg;
    } catch {
      throw new AuthConfigError('revocation.channel', "'postgres' needs the pg package installed (npm install pg)");
    }
    const config = typeof this.config.connection === 'string' ? { connectionString: this.config.connection } : this.config.connection;
    const client = new Pg.Client(config);
    this.client = client;
    client.on('notification', (msg: Notification) => {
      if (msg.channel !== this.channel || msg.payload === undefined) return;
      const event = decodeEvent(msg.payload);
      if (event) this.listener?.event(event);
    });
    client.on('error', (err: Error) => this.lost(client, err.message));
    client.on('end', () => this.lost(client, 'connection ended'));
    try {
      await withTimeout(client.connect(), this.options.timeoutMs);
      await withTimeout(client.query(`LISTEN ${this.channel}`), this.options.timeoutMs);
    } catch (err) {
      this.lost(client, err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.client !== client || this.stopped) return;
    this.attempt = 0;
    this.listener?.alive();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      withTimeout(client.query('SELECT 1'), this.options.timeoutMs).then(
        () => this.client === client && this.listener?.alive(),
        () => this.lost(client, 'heartbeat unanswered'),
      );
    }, this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private lost(client: Client, reason: string): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.heartbeatTimer);
    destroy(client);
    this.listener?.down(reason);
    if (this.stopped) return;
    const delay = backoffMs(this.attempt++);
    if (this.attempt === 1) this.logger.warn(`PostgreSQL channel lost (${reason.slice(0, 200)}); reconnecting`);
    this.reconnectTimer = setTimeout(() => void this.connect().catch(() => undefined), delay);
    this.reconnectTimer.unref();
  }
}

/** Drops a connection that may be hung: `end()` would wait for a server that does not answer. */
function destroy(client: Client): void {
  client.removeAllListeners('notification');
  client.on('error', () => undefined);
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** The `pg` client configuration of a TypeORM PostgreSQL DataSource's options. */
export function pgConfigOf(options: {
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: unknown;
  database?: string;
  ssl?: unknown;
}): ClientConfig {
  if (options.url) return { connectionString: options.url, ...(options.ssl ? { ssl: options.ssl } : {}) };
  return {
    host: options.host,
    port: options.port,
    user: options.username,
    password: options.password as string | undefined,
    database: options.database,
    ...(options.ssl ? { ssl: options.ssl } : {}),
  };
}
