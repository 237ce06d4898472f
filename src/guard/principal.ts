import type { AuthContextData, AuthPrincipal } from '../context/auth-context.js';

/** `request.user`: the principal view of an authentication. */
export function principalOf(auth: AuthContextData): AuthPrincipal {
  const email = auth.claims?.email;
  return {
    id: auth.userId,
    username: auth.username ?? auth.userId,
    ...(typeof email === 'string' ? { email } : {}),
    isStaff: auth.isStaff,
    isSuperuser: auth.isSuperuser,
    permissions: auth.permissions,
  };
}
