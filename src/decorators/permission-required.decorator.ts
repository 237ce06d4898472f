import { routeDecorator } from './route-metadata.js';
import { REQUIRED_PERMISSIONS, type PermissionRequirement } from './metadata-keys.js';

export interface PermissionRequiredOptions {
  /** 'all' [default]: every permission; 'any': at least one. */
  mode?: 'all' | 'any';
}

/**
 * The principal must hold the permissions: all of them, or at least one with `{ mode: 'any' }`.
 * An empty list or a non-string throws here, when the controller is loaded: a check is never silently dropped.
 */
export function PermissionRequired(permissions: string[], options: PermissionRequiredOptions): MethodDecorator & ClassDecorator;
export function PermissionRequired(...permissions: string[]): MethodDecorator & ClassDecorator;
export function PermissionRequired(...args: unknown[]): MethodDecorator & ClassDecorator {
  let permissions: unknown[];
  let mode: unknown = 'all';
  if (Array.isArray(args[0])) {
    if (args.length > 2) throw new TypeError('@PermissionRequired(permissions[], options) takes two arguments');
    permissions = args[0];
    const options = args[1] as PermissionRequiredOptions | undefined;
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw new TypeError('@PermissionRequired(): the second argument must be an options object');
    }
    mode = options?.mode ?? 'all';
  } else {
    permissions = args;
  }
  if (mode !== 'all' && mode !== 'any') {
    throw new TypeError(`@PermissionRequired(): mode must be 'all' or 'any', got ${JSON.stringify(mode)}`);
  }
  if (permissions.length === 0) {
    throw new TypeError('@PermissionRequired() needs at least one permission: an empty list would silently drop the check');
  }
  for (const p of permissions) {
    if (typeof p !== 'string' || p.trim().length === 0) {
      throw new TypeError(`@PermissionRequired(): every permission must be a non-empty string, got ${JSON.stringify(p)}`);
    }
  }
  const requirement: PermissionRequirement = {
    permissions: Object.freeze([...new Set(permissions as string[])]),
    mode,
  };
  return routeDecorator(REQUIRED_PERMISSIONS, requirement);
}
