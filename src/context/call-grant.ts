import type { Carrier } from '../transports/carrier.js';
import { AuthError } from '../errors/auth-error.js';
import type { AuthContextData } from './auth-context.js';

/**
 * What the module knew of a call when one of its guards (or a transport's
 * connection check) authenticated it, kept apart from the `AuthContextData`
 * object the app receives. That object is the app's to read and may be
 * mutated, spread or rebuilt; the grant is not reachable from it, so a copy,
 * an object literal or an edited field never acts for anyone: the identity
 * of an explicit call comes from here, out of the frozen verified claims.
 */
export interface CallGrant {
  readonly carrier: Carrier;
  readonly backend: AuthContextData['backend'];
  /** The verified (frozen) claims of a JWT; undefined for an API key. */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** `userId` and `sessionId` as the guard set them, copied before the app could touch them. */
  readonly userId: string;
  readonly sessionId: string | undefined;
}

// Keyed by the very object the guard put on `request.auth`: it dies with it.
const grants = new WeakMap<object, CallGrant>();

/** Called by the guard (and the transports' connection checks) on the `AuthContextData` it created for a call. */
export function grantCall(auth: AuthContextData, carrier: Carrier): void {
  grants.set(auth, { carrier, backend: auth.backend, claims: auth.claims, userId: auth.userId, sessionId: auth.sessionId });
}

/** The grant of an object the module created, or undefined for anything else. */
export function grantOf(caller: unknown): CallGrant | undefined {
  return typeof caller === 'object' && caller !== null ? grants.get(caller) : undefined;
}

/**
 * The grant behind the `AuthContextData` an app passed to a context-bound
 * method (the explicit form). Anything the module's guard did not create
 * (a copy, a literal, `undefined` for a guest) is refused with 401 `token_missing`.
 */
export function requireGrant(method: string, caller: unknown): CallGrant {
  const grant = grantOf(caller);
  if (grant !== undefined) return grant;
  if (caller === undefined || caller === null) {
    throw new AuthError(
      'token_missing',
      `${method}_without_caller`,
      undefined,
      `${method}() was given no caller: pass the AuthContextData of an authenticated call (@AuthContext(), request.auth); a guest has none`,
    );
  }
  throw new AuthError(
    'token_missing',
    `${method}_caller_not_from_guard`,
    undefined,
    `${method}() accepts only the AuthContextData object a guard of the module created for a call (@AuthContext(), request.auth), not a copy or an object built by the app`,
  );
}
