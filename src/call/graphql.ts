import { IntrinsicException, type ExecutionContext } from '@nestjs/common';
import type { AuthError } from '../errors/auth-error.js';
import { bodyOf, statusOf, type TransportErrorBody } from '../errors/bodies.js';
import { DEFAULT_CARRIER_OPTIONS, plainHeaders, transportCarrier, withToken, type CarrierOptions, type TransportCarrier } from './carrier.js';
import { setResponseHeader } from './response.js';
import type { Transport } from './transport.js';

/** The part of graphql-ws's server `Context` the module reads (typed here: graphql-ws is an optional peer). */
export interface GraphqlWsContext {
  readonly connectionParams?: Readonly<Record<string, unknown>>;
  /** With graphql-ws's `ws` server: `{ socket, request }` (the upgrade request). */
  readonly extra?: unknown;
}

interface WsExtra {
  socket?: { close(code?: number, reason?: string): void };
  request?: { headers?: unknown };
}

export function extraOf(ctx: GraphqlWsContext): WsExtra | undefined {
  return typeof ctx.extra === 'object' && ctx.extra !== null ? (ctx.extra as WsExtra) : undefined;
}

/**
 * GraphQL: queries and mutations carry the HTTP request as `context.req`
 * (Express or Fastify, as @nestjs/apollo builds it). A subscription over
 * graphql-ws carries graphql-ws's own connection context there (the driver
 * puts it as `req` when the app's context does not set one): its token is in
 * `connectionParams` or in the upgrade request's headers.
 */
export function graphqlCarrier(ctx: ExecutionContext, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS): TransportCarrier | undefined {
  const gqlContext = ctx.getArgs()[2] as { req?: unknown } | undefined;
  const req = gqlContext?.req;
  if (typeof req !== 'object' || req === null) return undefined;
  if (isGraphqlWsContext(req)) return graphqlWsCarrier(req, options);
  const headers = (req as { headers?: unknown }).headers;
  return {
    type: 'graphql',
    target: req as TransportCarrier['target'],
    headers: typeof headers === 'object' && headers !== null ? (headers as TransportCarrier['headers']) : {},
    // The app's context may hold the response (`res`); Express's request links it (`req.res`); Fastify's does not.
    response: (gqlContext as { res?: unknown }).res ?? (req as { res?: unknown }).res,
  };
}

/** The credentials of a graphql-ws connection: the upgrade's headers, then `connectionParams` (`authorization: 'Bearer …'` or `token: '…'`). */
export function graphqlWsCarrier(wsContext: GraphqlWsContext, options: CarrierOptions = DEFAULT_CARRIER_OPTIONS): TransportCarrier {
  const headers = plainHeaders(extraOf(wsContext)?.request?.headers);
  const params = wsContext.connectionParams ?? {};
  withToken(headers, params.authorization ?? params.Authorization, options);
  withToken(headers, params.token, options);
  return transportCarrier('graphql', wsContext, headers);
}

export function isGraphqlWsContext(req: object): req is GraphqlWsContext {
  return 'connectionParams' in req || ('extra' in req && typeof extraOf(req as GraphqlWsContext)?.socket === 'object');
}

const GRAPHQL_CODE: Readonly<Record<number, string>> = {
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * A resolver failure as GraphQL clients expect it: `extensions.code` is the
 * conventional `UNAUTHENTICATED` / `FORBIDDEN` (`SERVICE_UNAVAILABLE` for
 * `auth_unavailable` and `auth_busy`, `TOO_MANY_REQUESTS`), `extensions.authCode`
 * the module's API.md code, `extensions.retryAfter` the seconds to wait when
 * the code has one (HTTP's `Retry-After` is set too when there is a response).
 * An Error with `extensions`: graphql-js copies them onto the located
 * GraphQLError, so the module needs no import of `graphql`, and Nest's HTTP
 * error transform leaves it alone. An `IntrinsicException`: a refusal is an
 * answer, not a crash, so Nest's exception handler does not log it as an
 * ERROR. The HTTP status follows the driver: 200 with `errors` (and
 * `data: null` for the field).
 */
export class AuthGraphqlError extends IntrinsicException {
  readonly extensions: { code: string; authCode: string; retryAfter?: number };
  constructor(err: AuthError) {
    const body: TransportErrorBody = bodyOf(err);
    super(body.message);
    this.name = 'AuthGraphqlError';
    this.extensions = { code: GRAPHQL_CODE[statusOf(body.code)], authCode: body.code };
    if (body.retryAfter !== undefined) this.extensions.retryAfter = body.retryAfter;
  }
}

export function toGraphqlError(err: AuthError): AuthGraphqlError {
  return new AuthGraphqlError(err);
}

/** GraphQL: `context.req` is the call (argument 2 is the GraphQL context); a refusal is an `AuthGraphqlError`. */
export const GRAPHQL_TRANSPORT: Transport = {
  carrier: graphqlCarrier,
  target: (ctx) => (ctx.getArgByIndex(2) as { req?: unknown } | undefined)?.req,
  failure(err, carrier) {
    // GraphQL over HTTP has a response: its Retry-After says the same as extensions.retryAfter.
    const retryAfter = bodyOf(err).retryAfter;
    if (retryAfter !== undefined && carrier?.response !== undefined) setResponseHeader(carrier.response, 'Retry-After', String(retryAfter));
    return toGraphqlError(err);
  },
};

/**
 * Close code of a graphql-ws connection refused or ended by the module:
 * 4000 + the code's HTTP status (4401, 4403, 4429, 4503), with the
 * API.md code as the close reason (what graphql-ws's client `closed` event shows).
 */
export function graphqlWsCloseOf(err: AuthError): { code: number; reason: string } {
  return { code: 4000 + statusOf(err.code), reason: err.code };
}
