import http from 'node:http';

/** One stream read as it arrives: the `data:` of each event, parsed as JSON. */
export interface SseStream {
  readonly status: number;
  readonly contentType: string | undefined;
  /** Every event so far. */
  readonly events: unknown[];
  /** Resolves with the next event (or one already waiting), rejects after `ms`. */
  next(ms?: number): Promise<unknown>;
  close(): void;
}

/**
 * Opens `url` as an EventSource would (GET, `Accept: text/event-stream`) with
 * node's http client on its own connection, and parses the body incrementally:
 * events are seen while the response is still open.
 */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: unknown[] = [];
      const waiters: Array<(value: unknown) => void> = [];
      let read = 0;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          if (data === '') continue;
          let value: unknown;
          try {
            value = JSON.parse(data);
          } catch {
            value = data;
          }
          events.push(value);
          const waiter = waiters.shift();
          if (waiter !== undefined) {
            read++;
            waiter(value);
          }
        }
      });
      res.on('error', () => undefined);
      resolve({
        status: res.statusCode ?? 0,
        contentType: res.headers['content-type'],
        events,
        next(ms = 5000) {
          if (read < events.length) return Promise.resolve(events[read++]);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => {
              const i = waiters.indexOf(waiter);
              if (i >= 0) waiters.splice(i, 1);
              fail(new Error(`no event within ${ms} ms`));
            }, ms);
            const waiter = (value: unknown) => {
              clearTimeout(timer);
              ok(value);
            };
            waiters.push(waiter);
          });
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
  });
}
