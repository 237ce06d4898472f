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

/** ioredis options passed through (ioredis is an optional peer: no import of its types). */
export type RedisOptions = Record<string, unknown>;

/** The part of an ioredis client the channel uses. */
interface Redis {
  status: string;
  connect(): Promise<void>;
  subscribe(channel: string): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  ping(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  on(event: string, fn: (...args: never[]) => void): this;
}

export interface RedisRevocationChannelOptions {
  /** `redis://...` URL [redis://127.0.0.1:6379]. */
  url?: string;
  /** Extra ioredis options (TLS, password, ...). */
  options?: RedisOptions;
  /** The pub/sub channel ['nest-auth:revocation']; instances that share a Redis must agree. */
  channel?: string;
}

/**
 * Redis pub/sub on `ioredis` (an optional peer, imported only when this
 * channel is configured): one subscriber and one publisher connection.
 * ioredis reconnects (with our back-off) and re-subscribes by itself; a PING
 * on the subscriber every heartbeat proves the subscription still answers.
 */
export class RedisRevocationChannel implements RevocationChannel {
  readonly name = 'redis';
  private readonly channel: string;
  private sub: Redis | undefined;
  private pub: Redis | undefined;
  private listener: RevocationChannelListener | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private subscribed = false;
  private readonly logger = new Logger('RevocationChannel');

  constructor(private readonly config: RedisRevocationChannelOptions = {}) {
    this.channel = config.channel ?? 'nest-auth:revocation';
  }

  async start(listener: RevocationChannelListener, options: RevocationChannelStartOptions): Promise<void> {
    this.listener = listener;
    type RedisCtor = new (url: string, o: RedisOptions) => Redis;
    let RedisCtor: RedisCtor;
    try {
      const mod = (await import('ioredis' as string)) as { default?: RedisCtor; Redis?: RedisCtor };
      RedisCtor = (mod.Redis ?? mod.default)!;
    } catch {
      throw new AuthConfigError('revocation.channel', "'redis' needs the ioredis package installed (npm install ioredis)");
    }
    const url = this.config.url ?? 'redis://127.0.0.1:6379';
    const common: RedisOptions = {
      ...this.config.options,
      lazyConnect: true,
      connectTimeout: options.timeoutMs,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (attempt: number) => backoffMs(attempt - 1),
    };
    this.sub = new RedisCtor(url, { ...common, enableOfflineQueue: true });
    this.pub = new RedisCtor(url, common);
    for (const c of [this.sub, this.pub]) c.on('error', () => undefined);
    this.sub.on('message', (ch: string, text: string) => {
      if (ch !== this.channel) return;
      const event = decodeEvent(text);
      if (event) this.listener?.event(event);
    });
    this.sub.on('close', () => this.down('connection closed'));
    this.sub.on('ready', () => {
      // ioredis re-subscribes on reconnect before 'ready'; count it alive once the subscription is confirmed.
      void this.confirm(options.timeoutMs);
    });
    await Promise.all([this.sub.connect().catch(() => undefined), this.pub.connect().catch(() => undefined)]);
    if (!this.subscribed)
      await this.sub.subscribe(this.channel).then(
        () => (this.subscribed = true),
        () => undefined,
      );
    if (this.subscribed && this.sub.status === 'ready') this.listener?.alive();
    this.heartbeatTimer = setInterval(() => {
      const sub = this.sub;
      if (!sub || sub.status !== 'ready') return;
      withTimeout(sub.ping(), options.timeoutMs).then(
        () => this.listener?.alive(),
        () => {
          this.down('heartbeat unanswered');
          // A hung socket is not noticed by TCP for minutes: drop it and let ioredis reconnect.
          sub.disconnect(true);
        },
      );
    }, options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  async publish(event: RevocationEvent): Promise<void> {
    if (!this.pub) throw new Error('not started');
    await this.pub.publish(this.channel, encodeEvent(event));
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    this.listener = undefined;
    for (const c of [this.sub, this.pub]) c?.disconnect(false);
    this.sub = this.pub = undefined;
  }

  private async confirm(timeoutMs: number): Promise<void> {
    const sub = this.sub;
    if (!sub) return;
    try {
      if (!this.subscribed) {
        await withTimeout(sub.subscribe(this.channel), timeoutMs);
        this.subscribed = true;
      }
      await withTimeout(sub.ping(), timeoutMs);
      this.listener?.alive();
    } catch {
      this.down('subscribe unanswered');
    }
  }

  private down(reason: string): void {
    this.listener?.down(reason);
    void this.logger;
  }
}
