import { parseJsonObject } from '../tokens/strict-json.js';

/** Why a read of a provider's document failed: for the log line, never for a client. */
export class ProviderReadError extends Error {
  constructor(
    readonly url: string,
    problem: string,
  ) {
    super(`${url}: ${problem}`);
    this.name = 'ProviderReadError';
  }
}

export interface FetchedJson {
  body: Record<string, unknown>;
  /** The `max-age` of the answer's Cache-Control, in seconds; 0 for no-store / no-cache; undefined when it sends none. */
  maxAgeSeconds: number | undefined;
}

/** A request other than the plain GET: introspection POSTs a form with the client's credentials. */
export interface JsonRequest {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

/**
 * A read of a provider's JSON document (discovery, JWK Set, an introspection
 * answer) with Node's own fetch: one deadline for the whole exchange (headers
 * and body), a bound on the body read as it streams (a huge or endless answer
 * is cut, never buffered), no redirect followed (a redirect could point
 * anywhere, another host included), a 200 only, and our strict JSON parser (a
 * member twice is refused, as in tokens). A non-200 names the provider's OAuth
 * `error` code (`invalid_client`) when its body has one: the log says what to fix.
 */
export async function fetchJson(url: string, timeoutMs: number, maxBytes: number, request?: JsonRequest): Promise<FetchedJson> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: request?.method ?? 'GET',
      signal,
      redirect: 'error',
      headers: { accept: 'application/json', ...request?.headers },
      ...(request === undefined ? {} : { body: request.body }),
    });
  } catch (err) {
    throw new ProviderReadError(url, signal.aborted ? `no answer within ${timeoutMs} ms` : `unreachable (${causeOf(err)})`);
  }
  try {
    if (response.status !== 200) throw new ProviderReadError(url, `HTTP ${response.status}${await oauthErrorOf(response, maxBytes, url)}`);
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes)
      throw new ProviderReadError(url, `body of ${declared} bytes is over the ${maxBytes}-byte bound`);
    const bytes = await readBounded(response, maxBytes, url);
    let body: Record<string, unknown>;
    try {
      body = parseJsonObject(bytes);
    } catch {
      throw new ProviderReadError(url, 'not a JSON object (or a member twice, or nested too deeply)');
    }
    return { body, maxAgeSeconds: maxAgeOf(response.headers.get('cache-control')) };
  } catch (err) {
    if (err instanceof ProviderReadError) throw err;
    throw new ProviderReadError(url, signal.aborted ? `no answer within ${timeoutMs} ms` : `read failed (${causeOf(err)})`);
  } finally {
    // Whatever is left unread is dropped with the connection's stream.
    if (response.body && !response.bodyUsed) await response.body.cancel().catch(() => undefined);
  }
}

/** ` invalid_client` from an OAuth error body (RFC 6749 §5.2), or '': nothing else of the body is kept. */
async function oauthErrorOf(response: Response, maxBytes: number, url: string): Promise<string> {
  try {
    const error = parseJsonObject(await readBounded(response, maxBytes, url)).error;
    return typeof error === 'string' && /^[\x20-\x7e]{1,64}$/.test(error) ? ` ${error}` : '';
  } catch {
    return '';
  }
}

async function readBounded(response: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new ProviderReadError(url, `body over the ${maxBytes}-byte bound`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** `max-age` of a Cache-Control header (RFC 9111 §5.2.2.1); `no-store` and `no-cache` count as 0. */
export function maxAgeOf(header: string | null): number | undefined {
  if (header === null) return undefined;
  let maxAge: number | undefined;
  for (const part of header.split(',')) {
    const [name, value] = part.trim().toLowerCase().split('=', 2) as [string, string | undefined];
    if (name === 'no-store' || name === 'no-cache') return 0;
    if (name === 'max-age' && value !== undefined && /^"?\d{1,10}"?$/.test(value)) maxAge = Number(value.replace(/"/g, ''));
  }
  return maxAge;
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message.slice(0, 120);
  return err instanceof Error ? err.message.slice(0, 120) : 'error';
}
