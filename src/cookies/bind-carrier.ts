import type { CookieCarrier } from './http-cookies.js';

const CARRIER = Symbol('nest-auth.http-carrier');

/**
 * Interim glue until the transport carriers of the new core land: the guard binds the HTTP request to its
 * response here, and the services find both again from the request in the AsyncLocalStorage.
 */
export function bindHttpCarrier(request: object, response: unknown): CookieCarrier {
  const req = request as { headers?: Record<string, unknown>; [CARRIER]?: CookieCarrier };
  const carrier: CookieCarrier = { type: 'http', request, headers: req.headers, response };
  req[CARRIER] = carrier;
  return carrier;
}

export function httpCarrierOf(request: unknown): CookieCarrier | undefined {
  return (request as { [CARRIER]?: CookieCarrier } | undefined)?.[CARRIER];
}
