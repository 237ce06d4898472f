import type { AuthContextData, AuthPrincipal } from '../context/auth-context.js';

/** `request.user`: the principal view of an authentication. */
export function principalOf(auth: AuthContextData): AuthPrincipal {
  const email = auth.claims?.email;
  // One object literal of a fixed shape per request (no spread): this runs on every authenticated request.
  return {
    id: auth.userId,
    username: auth.username ?? auth.userId,
    email: typeof email === 'string' ? email : undefined,
    isStaff: auth.isStaff,
    isSuperuser: auth.isSuperuser,
    permissions: auth.permissions,
  };
}
