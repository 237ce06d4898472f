export const IS_PUBLIC = 'nest-auth:public';
export const REQUIRED_PERMISSIONS = 'nest-auth:permissions';
export const STAFF_ONLY = 'nest-auth:staff-only';
export const SUPERUSER_ONLY = 'nest-auth:superuser-only';

export interface PermissionRequirement {
  permissions: readonly string[];
  mode: 'all' | 'any';
}
export const SKIP_LOGIN_THROTTLE = 'nest-auth:skip-login-throttle';
