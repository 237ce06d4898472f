export const IS_PUBLIC = 'nest-auth:public';
export const REQUIRED_PERMISSIONS = 'nest-auth:permissions';
export const STAFF_ONLY = 'nest-auth:staff-only';
export const SUPERUSER_ONLY = 'nest-auth:superuser-only';

export interface PermissionRequirement {
  permissions: readonly string[];
  mode: 'all' | 'any';
}
export const SKIP_LOGIN_THROTTLE = 'nest-auth:skip-login-throttle';

/** The three decorators that demand something of the principal. */
const AUTHORIZATION_KEYS = [REQUIRED_PERMISSIONS, STAFF_ONLY, SUPERUSER_ONLY] as const;

function own<T>(key: string, target: object): T | undefined {
  return Reflect.getMetadata(key, target) as T | undefined;
}

/** True when the target (a handler or a class) itself carries an authorization decorator. */
export function hasAuthorizationMetadata(target: object): boolean {
  return AUTHORIZATION_KEYS.some((key) => own(key, target) !== undefined);
}

/** True when the target (a handler or a class) itself carries `@Public()`. */
export function hasPublicMetadata(target: object): boolean {
  return own<boolean>(IS_PUBLIC, target) === true;
}
