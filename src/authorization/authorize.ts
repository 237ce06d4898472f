import type { AuthContextData } from '../context/auth-context.js';
import type { RoutePolicy } from './route-policy.js';

/** A superuser passes every check (Django semantics); API keys are never staff or superuser. */
export function isAuthorized(policy: RoutePolicy, auth: AuthContextData): boolean {
  if (policy.isPublic || auth.isSuperuser) return true;
  if (policy.superuserOnly) return false;
  if (policy.staffOnly && !auth.isStaff) return false;
  const required = policy.permissions;
  if (required === undefined) return true;
  const held = auth.permissions;
  if (policy.anyPermission) {
    for (let i = 0; i < required.length; i++) if (held.includes(required[i])) return true;
    return false;
  }
  for (let i = 0; i < required.length; i++) if (!held.includes(required[i])) return false;
  return true;
}
