import { request as httpRequest, type Agent } from 'node:http';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | undefined;
  reusedSocket: boolean;
  /** When the answer was complete (performance.now()). */
  at: number;
  /** When the request went out. */
  sentAt: number;
}

/**
 * One login over `agent` (keep-alive, one socket: every call after the first reuses the same connection), from
 * the client address `from` (given in X-Forwarded-For to the app, which trusts the loopback as its proxy: every
 * machine has 127.0.0.1 only) or 127.0.0.1.
 */
export function rawLogin(port: number, agent: Agent, username: string, password: string, from?: string): Promise<Answer> {
  const body = JSON.stringify({ username, password });
  const sentAt = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        agent,
        path: '/auth/login',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(from === undefined ? {} : { 'x-forwarded-for': from }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text) as Record<string, unknown>,
            retryAfter: res.headers['retry-after'] as string | undefined,
            reusedSocket: req.reusedSocket,
            at: performance.now(),
            sentAt,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
