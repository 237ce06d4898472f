import type { Reflector } from '@nestjs/core';
import {
  IS_PUBLIC,
  REQUIRED_PERMISSIONS,
  STAFF_ONLY,
  SUPERUSER_ONLY,
  type PermissionRequirement,
} from '../decorators/metadata-keys.js';

/** What a handler demands, read once from its decorators. */
export interface RoutePolicy {
  isPublic: boolean;
  staffOnly: boolean;
  superuserOnly: boolean;
  permissions: readonly string[] | undefined;
  anyPermission: boolean;
  /** `Controller.handler`, for audit events: no URL, so no query string can leak into a log. */
  route: string;
  /** What the route requires, for `access.denied` events. */
  required: string;
}

/**
 * The policy of a handler never changes, so it is computed on the first
 * request and kept, keyed by the handler function (and its class: an inherited
 * handler can sit in two controllers with different class-level decorators).
 */
export class RoutePolicyCache {
  private readonly byHandler = new WeakMap<Function, { cls: Function; policy: RoutePolicy }>();

  constructor(private readonly reflector: Reflector) {}

  get(handler: Function, cls: Function): RoutePolicy {
    const hit = this.byHandler.get(handler);
    if (hit !== undefined && hit.cls === cls) return hit.policy;
    const policy = this.compute(handler, cls);
    if (hit === undefined) this.byHandler.set(handler, { cls, policy });
    return policy;
  }

  private compute(handler: Function, cls: Function): RoutePolicy {
    const targets = [handler, cls];
    const requirement = this.reflector.getAllAndOverride<PermissionRequirement | undefined>(REQUIRED_PERMISSIONS, targets);
    const staffOnly = this.reflector.getAllAndOverride<boolean | undefined>(STAFF_ONLY, targets) === true;
    const superuserOnly = this.reflector.getAllAndOverride<boolean | undefined>(SUPERUSER_ONLY, targets) === true;
    const required: string[] = [];
    if (superuserOnly) required.push('superuser');
    if (staffOnly) required.push('staff');
    if (requirement) required.push(`${requirement.mode}:${requirement.permissions.join(',')}`);
    return {
      isPublic: this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true,
      staffOnly,
      superuserOnly,
      permissions: requirement?.permissions,
      anyPermission: requirement?.mode === 'any',
      route: `${cls.name}.${handler.name}`,
      required: required.length > 0 ? required.join(' ') : 'authenticated',
    };
  }
}
