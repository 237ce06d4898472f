import type { ExecutionContext } from '@nestjs/common';
import type { AuthContextData, AuthPrincipal } from './auth-context.js';

/** The object the guard reads credentials from and writes `auth`/`user` to, whatever the transport. */
export interface AuthCarrier {
  headers?: Record<string, string | string[] | undefined>;
  auth?: AuthContextData;
  user?: AuthPrincipal;
  [key: string]: unknown;
}

/**
 * Finds the request-like object of any Nest execution context:
 * HTTP (Express and Fastify), GraphQL (`context.req`, without depending on
 * @nestjs/graphql), WebSocket (the client; headers from its handshake) and RPC
 * (the message context). Returns undefined for a context it does not know.
 */
export function requestOf(ctx: ExecutionContext, type: string = ctx.getType<string>()): AuthCarrier | undefined {
  switch (type) {
    case 'http':
      // switchToHttp() builds three closures on every call; the request is simply argument 0.
      return ctx.getArgByIndex(0);
    case 'graphql': {
      const gqlContext = ctx.getArgs()[2] as { req?: AuthCarrier } | undefined;
      return gqlContext?.req;
    }
    case 'ws':
      return ctx.switchToWs().getClient();
    case 'rpc':
      return ctx.switchToRpc().getContext();
    default:
      return undefined;
  }
}

/** The credential headers of a carrier: a WebSocket client keeps them in its handshake, an RPC context behind getHeaders(). */
export function headersOf(type: string, carrier: AuthCarrier): Record<string, unknown> | undefined {
  if (type === 'http' || type === 'graphql') return carrier.headers;
  if (type === 'ws') {
    const handshake = carrier.handshake as { headers?: Record<string, unknown> } | undefined;
    return handshake?.headers ?? (carrier.request as { headers?: Record<string, unknown> } | undefined)?.headers;
  }
  const getHeaders = carrier.getHeaders as (() => unknown) | undefined;
  const headers = typeof getHeaders === 'function' ? getHeaders.call(carrier) : carrier.headers;
  return typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>) : undefined;
}
