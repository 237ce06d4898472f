import type { INestApplication } from '@nestjs/common';
import { SwaggerModule, type OpenAPIObject, type SwaggerDocumentOptions } from '@nestjs/swagger';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { collectRoutes, type AuthRoute } from '../authorization/collect-routes.js';
import { describeAccess } from '../authorization/route-table.js';
import type { RoutePolicyOf } from '../authorization/route-policy-source.js';
import { LoginDto } from '../login/login.dto.js';
import { RefreshTokenDto } from '../sessions/refresh-token.dto.js';
import { AUTH_ERROR_SCHEMA_NAME, authErrorBodySchema, authErrorResponse, type DocumentedAuthCode } from './auth-error-schema.js';

/** Names of the security schemes the document gets. */
export const AUTH_SECURITY_SCHEMES = { bearer: 'bearer', apiKey: 'apiKey', cookie: 'cookie' } as const;

export interface AuthOpenApiOptions {
  /** Passed to `SwaggerModule.createDocument`. */
  swagger?: SwaggerDocumentOptions;
  /** Keep the `x-auth` extension (the route's policy, machine-readable) on each operation [true]. */
  policyExtension?: boolean;
  /** Where the route policy comes from [the guard's]; for tests and for the module's route table service. */
  policyOf?: RoutePolicyOf;
}

/** The swagger metadata key of `@ApiExtension()`: the marker that ties an operation of the document to its handler. */
const API_EXTENSION = 'swagger/apiExtension';
const MARKER = 'x-nest-auth-route';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'search', 'query'];

/**
 * The app's OpenAPI document with its security taken from the route policy the
 * guard enforces: `SwaggerModule.createDocument` plus, from the module's options,
 * the bearer scheme (an API-key scheme when `apiKeys.enabled`, a cookie scheme
 * when cookies are on), every private operation marked with them, every
 * `@Public()` operation with `security: []`, and the 401/403/429/503 answers
 * with the error body schema.
 *
 *     const document = createAuthOpenApiDocument(app, new DocumentBuilder().setTitle('API').build());
 *     SwaggerModule.setup('docs', app, document);
 *
 * What the app declared itself (a scheme, a response of the same status, an
 * operation's own `security`) is kept.
 */
export function createAuthOpenApiDocument(
  app: INestApplication,
  config: Omit<OpenAPIObject, 'paths'>,
  options: AuthOpenApiOptions = {},
): OpenAPIObject {
  const authOptions = app.get<ResolvedAuthOptions>(AUTH_OPTIONS, { strict: false });
  const routes = collectRoutes(app, options.policyOf);
  const byMarker = new Map<string, AuthRoute>();
  const restore: Array<() => void> = [];
  const marked = new Set<Function>();
  // The document is built by @nestjs/swagger (prefixes, versions, aliases as it sees them); a marker on each
  // handler tells which operation came from which route. Removed again before returning.
  routes.forEach((route, i) => {
    const handler = route.handlerRef;
    if (marked.has(handler)) return;
    marked.add(handler);
    const marker = String(i);
    byMarker.set(marker, route);
    const own = Reflect.getOwnMetadata(API_EXTENSION, handler) as Record<string, unknown> | undefined;
    Reflect.defineMetadata(API_EXTENSION, { ...own, [MARKER]: marker }, handler);
    restore.push(() => (own === undefined ? Reflect.deleteMetadata(API_EXTENSION, handler) : Reflect.defineMetadata(API_EXTENSION, own, handler)));
  });
  let document: OpenAPIObject;
  try {
    document = SwaggerModule.createDocument(app, config, options.swagger);
  } finally {
    for (const undo of restore) undo();
  }
  applySecuritySchemes(document, authOptions);
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = (pathItem as Record<string, Record<string, unknown> | undefined>)[method];
      if (!operation) continue;
      const marker = operation[MARKER];
      delete operation[MARKER];
      const route = typeof marker === 'string' ? byMarker.get(marker) : undefined;
      if (route === undefined) continue;
      annotateOperation(operation, route, authOptions);
      if (options.policyExtension !== false) operation['x-auth'] = policyExtensionOf(route);
    }
  }
  return document;
}

/** The cookie that carries the access token when the cookie transport is on (`cookies.enabled`), else undefined. */
export function accessTokenCookieOf(options: ResolvedAuthOptions): string | undefined {
  return options.cookies.enabled ? options.cookies.access.name : undefined;
}

function applySecuritySchemes(document: OpenAPIObject, options: ResolvedAuthOptions): void {
  document.components ??= {};
  const schemes = (document.components.securitySchemes ??= {});
  const header = options.jwt.header;
  schemes[AUTH_SECURITY_SCHEMES.bearer] ??=
    header === 'authorization'
      ? { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from login or refresh.' }
      : { type: 'apiKey', in: 'header', name: header, description: 'An access token (JWT), sent raw in this header.' };
  if (options.apiKeys.enabled) {
    schemes[AUTH_SECURITY_SCHEMES.apiKey] ??= {
      type: 'apiKey',
      in: 'header',
      name: options.apiKeys.header,
      description: 'An API key created with ApiKeyService. Never satisfies staff- or superuser-only routes.',
    };
  }
  const cookie = accessTokenCookieOf(options);
  if (cookie !== undefined) {
    schemes[AUTH_SECURITY_SCHEMES.cookie] ??= { type: 'apiKey', in: 'cookie', name: cookie, description: 'The httpOnly access-token cookie.' };
  }
  const schemas = (document.components.schemas ??= {});
  schemas[AUTH_ERROR_SCHEMA_NAME] ??= authErrorBodySchema() as never;
}

function securityOf(route: AuthRoute, options: ResolvedAuthOptions): Array<Record<string, string[]>> {
  const security: Array<Record<string, string[]>> = [{ [AUTH_SECURITY_SCHEMES.bearer]: [] }];
  // An API key never satisfies a staff- or superuser-only route (it has no such flags).
  if (options.apiKeys.enabled && !route.staff && !route.superuser) security.push({ [AUTH_SECURITY_SCHEMES.apiKey]: [] });
  if (accessTokenCookieOf(options) !== undefined) security.push({ [AUTH_SECURITY_SCHEMES.cookie]: [] });
  return security;
}

function takesBody(route: AuthRoute, dto: Function): boolean {
  const types = Reflect.getMetadata('design:paramtypes', route.classRef.prototype, route.handler) as unknown[] | undefined;
  return (types ?? []).some((t) => typeof t === 'function' && (t === dto || t.prototype instanceof dto));
}

function annotateOperation(operation: Record<string, unknown>, route: AuthRoute, options: ResolvedAuthOptions): void {
  if (operation.security === undefined) operation.security = route.isPublic ? [] : securityOf(route, options);
  const responses = (operation.responses ??= {}) as Record<string, unknown>;
  const add = (status: 401 | 403 | 429 | 503, codes: DocumentedAuthCode[], headers?: Record<string, unknown>) => {
    if (codes.length > 0) responses[String(status)] ??= authErrorResponse(status, codes, headers);
  };
  const challenge = { 'WWW-Authenticate': { description: 'Bearer challenge (RFC 6750 §3)', schema: { type: 'string' } } };
  const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } };
  const cookies = accessTokenCookieOf(options) !== undefined;

  if (!route.isPublic) {
    add(
      401,
      ['token_missing', 'token_invalid', 'token_expired', 'token_revoked', ...(options.apiKeys.enabled ? (['api_key_invalid'] as const) : [])],
      challenge,
    );
    const requires = route.permissions !== undefined || route.staff || route.superuser;
    add(403, [...(requires ? (['permission_denied'] as const) : []), ...(cookies && unsafe(route) ? (['csrf_failed'] as const) : [])]);
    add(503, ['auth_unavailable']);
    return;
  }
  // Public routes answer with auth codes only where they run an auth flow (found by the module's DTOs) or reject bad tokens.
  if (takesBody(route, LoginDto)) {
    add(401, ['invalid_credentials']);
    add(429, ['too_many_attempts'], retryAfter);
    add(503, ['auth_busy', 'auth_unavailable'], retryAfter);
  } else if (takesBody(route, RefreshTokenDto)) {
    add(401, ['token_invalid', 'token_expired', 'token_revoked']);
    add(503, ['auth_unavailable']);
  } else if (options.publicRoutes.invalidToken === 'reject') {
    add(401, ['token_invalid', 'token_expired', 'token_revoked'], challenge);
  }
  if (cookies && unsafe(route)) add(403, ['csrf_failed']);
}

/** CSRF is checked on state-changing methods only. */
function unsafe(route: AuthRoute): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(route.method);
}

function policyExtensionOf(route: AuthRoute): Record<string, unknown> {
  return {
    access: describeAccess(route),
    public: route.isPublic,
    ...(route.permissions !== undefined ? { permissions: [...route.permissions], mode: route.permissionMode } : {}),
    ...(route.staff ? { staff: true } : {}),
    ...(route.superuser ? { superuser: true } : {}),
  };
}
