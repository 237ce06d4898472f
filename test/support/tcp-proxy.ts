/**
 * A TCP proxy the test controls, between a client (a DataSource, a pg or
 * Redis connection) and a real server on 127.0.0.1:
 * - `forward()`: bytes flow both ways (the default);
 * - `blackhole()`: nothing flows any more, in either direction, and new
 *   connections are accepted but never answered, as when a network path drops
 *   packets; what was held back flows once `forward()` is called again (TCP
 *   would have retransmitted it);
 * - `reset()`: every open connection is destroyed (the client sees ECONNRESET);
 *   `refuse(true)` makes new connections reset at once too.
 */
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; flush(): void }>();
  private holding = false;
  private refusing = false;
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async start(): Promise<this> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  get connections(): number {
    return this.pairs.size;
  }

  forward(): void {
    this.holding = false;
    this.refusing = false;
    for (const pair of this.pairs) pair.flush();
  }

  blackhole(): void {
    this.holding = true;
  }

  reset(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  async stop(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    const toUpstream: Buffer[] = [];
    const toClient: Buffer[] = [];
    const pair = {
      client,
      upstream,
      flush: () => {
        for (const chunk of toUpstream.splice(0)) upstream.write(chunk);
        for (const chunk of toClient.splice(0)) client.write(chunk);
      },
    };
    this.pairs.add(pair);
    // Held bytes wait in memory while black-holed, as unacknowledged segments would.
    client.on('data', (chunk: Buffer) => (this.holding ? toUpstream.push(chunk) : upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => (this.holding ? toClient.push(chunk) : client.write(chunk)));
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }
}
