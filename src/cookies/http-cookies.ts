import { parse, serialize, type SerializeOptions } from 'cookie';

/**
 * What the cookie transport needs of a request: the transport carrier
 * (`{ type, request, headers, response? }`). Only HTTP carriers (Express and
 * Fastify) carry cookies; other transports never reach the cookie code.
 */
export interface CookieCarrier {
  readonly type?: string;
  /** The request (the transport carrier's `target`). */
  readonly target?: unknown;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly response?: unknown;
}

const PARSED = Symbol('nest-auth.cookies');

/** The request's cookies (parsed once per request). Duplicate names keep the first, as browsers send the most specific first. */
export function cookiesOf(carrier: CookieCarrier): Record<string, string | undefined> {
  // Kept on the request itself: the guard and the service each build their own view of the call.
  const holder = (carrier.target ?? carrier) as { [PARSED]?: Record<string, string | undefined> };
  const cached = holder[PARSED];
  if (cached !== undefined) return cached;
  const header = carrier.headers?.cookie;
  let parsed: Record<string, string | undefined> = {};
  if (typeof header === 'string' && header.length > 0) {
    try {
      parsed = parse(header);
    } catch {
      parsed = {};
    }
  }
  holder[PARSED] = parsed;
  return parsed;
}

export function headerOf(carrier: CookieCarrier, name: string): string | undefined {
  const value = carrier.headers?.[name];
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

export function methodOf(carrier: CookieCarrier): string {
  const method = (carrier.target as { method?: unknown } | undefined)?.method;
  return typeof method === 'string' ? method.toUpperCase() : 'GET';
}

/** Appends Set-Cookie values on an Express response, a Fastify reply or a bare Node response. False when there is none. */
export function appendSetCookie(response: unknown, values: string[]): boolean {
  if (values.length === 0) return true;
  const res = response as
    | {
        append?: (name: string, value: string[]) => unknown;
        cookie?: unknown;
        header?: (name: string, value: string[]) => unknown;
        getHeader?: (name: string) => unknown;
        setHeader?: (name: string, value: string[]) => unknown;
        headersSent?: boolean;
        sent?: boolean;
      }
    | undefined;
  if (!res || res.headersSent === true || res.sent === true) return false;
  if (typeof res.append === 'function' && typeof res.cookie === 'function') {
    res.append('Set-Cookie', values); // Express
    return true;
  }
  if (typeof res.header === 'function') {
    res.header('set-cookie', values); // Fastify appends to set-cookie
    return true;
  }
  if (typeof res.setHeader === 'function') {
    const prior = res.getHeader?.('set-cookie');
    const list = prior === undefined ? [] : Array.isArray(prior) ? prior.map(String) : [String(prior)];
    res.setHeader('set-cookie', [...list, ...values]);
    return true;
  }
  return false;
}

export function serializeCookie(name: string, value: string, options: SerializeOptions): string {
  return serialize(name, value, options);
}
