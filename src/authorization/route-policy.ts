import {
  hasAuthorizationMetadata,
  hasPublicMetadata,
  REQUIRED_PERMISSIONS,
  SKIP_LOGIN_THROTTLE,
  STAFF_ONLY,
  SUPERUSER_ONLY,
  type PermissionRequirement,
} from '../decorators/metadata-keys.js';
import type { RoutePolicy } from '../call/policy.js';

export type { RoutePolicy };

function own<T>(key: string, target: object): T | undefined {
  return Reflect.getMetadata(key, target) as T | undefined;
}

/** `@Public()` and an authorization decorator on the same handler or class contradict each other. */
export function contradictionOf(handler: Function, cls: Function): string | undefined {
  if (hasPublicMetadata(handler) && hasAuthorizationMetadata(handler)) return `${cls.name}.${handler.name}`;
  if (hasPublicMetadata(cls) && hasAuthorizationMetadata(cls)) return cls.name;
  return undefined;
}

/**
 * The policy of one handler. For each kind the method's decorator overrides
 * the class's. `@Public()` on the method opens it; `@Public()` on the class
 * opens only the methods that carry no authorization decorator of their own
 * (a class-level `@Public()` never opens a `@SuperuserOnly()` method).
 */
export function computeRoutePolicy(handler: Function, cls: Function): RoutePolicy {
  const pick = <T>(key: string): T | undefined => own<T>(key, handler) ?? own<T>(key, cls);
  const requirement = pick<PermissionRequirement>(REQUIRED_PERMISSIONS);
  const staffOnly = pick<boolean>(STAFF_ONLY) === true;
  const superuserOnly = pick<boolean>(SUPERUSER_ONLY) === true;
  const isPublic = hasPublicMetadata(handler) || (hasPublicMetadata(cls) && !hasAuthorizationMetadata(handler));
  const required: string[] = [];
  if (isPublic) required.push('public');
  else {
    if (superuserOnly) required.push('superuser');
    if (staffOnly) required.push('staff');
    if (requirement) required.push(`${requirement.mode}:${requirement.permissions.join(',')}`);
  }
  return {
    isPublic,
    staffOnly: !isPublic && staffOnly,
    superuserOnly: !isPublic && superuserOnly,
    permissions: isPublic ? undefined : requirement?.permissions,
    anyPermission: requirement?.mode === 'any',
    route: `${cls.name}.${handler.name}`,
    required: required.length > 0 ? required.join(' ') : 'authenticated',
    skipLoginThrottle: pick<boolean>(SKIP_LOGIN_THROTTLE) === true,
  };
}

/**
 * What the guards know of a handler never changes, so it is computed on the
 * first call and kept, keyed by the handler function (and its class: an
 * inherited handler can sit in two controllers with different class-level
 * decorators, and is then computed each time).
 */
export class HandlerCache<T> {
  private readonly byHandler = new WeakMap<Function, { cls: Function; value: T }>();

  constructor(private readonly compute: (handler: Function, cls: Function) => T) {}

  get(handler: Function, cls: Function): T {
    const hit = this.byHandler.get(handler);
    if (hit !== undefined && hit.cls === cls) return hit.value;
    const value = this.compute(handler, cls);
    if (hit === undefined) this.byHandler.set(handler, { cls, value });
    return value;
  }
}

/** The route policy of each handler. */
export class RoutePolicyCache extends HandlerCache<RoutePolicy> {
  constructor() {
    super(computeRoutePolicy);
  }
}
