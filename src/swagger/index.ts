// @democrai/nest-auth/swagger: the OpenAPI document from the route policy. Needs @nestjs/swagger (an optional peer).
export { createAuthOpenApiDocument, accessTokenCookieOf, AUTH_SECURITY_SCHEMES, type AuthOpenApiOptions } from './auth-openapi.js';
export { AUTH_ERROR_SCHEMA_NAME, authErrorBodySchema, type DocumentedAuthCode } from './auth-error-schema.js';
