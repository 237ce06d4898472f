import type { Carrier } from '../call/carrier.js';
import { AuthError } from '../errors/auth-error.js';
import type { AuthContextData } from './auth-context.js';

/**
 * What the module knew of a call when one of its guards (or a transport's
 * connection check) authenticated it, kept apart from the `AuthContextData`
 * object the app receives. That object is the app's to read and may be
 * mutated, spread or rebuilt; the grant is not reachable through it, so a copy,
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

/** A base class whose constructor returns the object it is given: a subclass then adds its private field to that object. */
class Adopt {
  constructor(target: object) {
    return target;
  }
}

/**
 * Puts the grant in a private field (`#grant`) of the very object the guard
 * put on `request.auth`. A private field is invisible to the app: not an own
 * key or symbol, not copied by a spread or `structuredClone`, not in
 * `JSON.stringify`, `util.inspect` or Jest's equality; only this class can
 * read it. A WeakMap would do the same, but costs a hash-table entry per
 * request that only a full GC removes (measured at 1.5-3 µs per request);
 * the field is a hidden-class transition V8 caches.
 */
class GrantStamp extends Adopt {
  readonly #grant: CallGrant;

  private constructor(target: object, grant: CallGrant) {
    super(target);
    this.#grant = grant;
  }

  static stamp(target: object, grant: CallGrant): void {
    new GrantStamp(target, grant);
  }

  static read(value: object): CallGrant | undefined {
    return #grant in value ? (value as unknown as GrantStamp).#grant : undefined;
  }
}

/** Called by the guard (and the transports' connection checks) on the `AuthContextData` it created for a call. */
export function grantCall(auth: AuthContextData, carrier: Carrier): void {
  // Once per object (a second stamp would throw), and never on an object that cannot take it: the explicit form
  // then refuses it, the guard goes on.
  if (GrantStamp.read(auth) !== undefined || !Object.isExtensible(auth)) return;
  GrantStamp.stamp(auth, { carrier, backend: auth.backend, claims: auth.claims, userId: auth.userId, sessionId: auth.sessionId });
}

/** The grant of an object the module created, or undefined for anything else. */
export function grantOf(caller: unknown): CallGrant | undefined {
  return typeof caller === 'object' && caller !== null ? GrantStamp.read(caller) : undefined;
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
