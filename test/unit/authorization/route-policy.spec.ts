/** The route policy and its check (src/authorization): one decision per route, contradictions refused. */
import 'reflect-metadata';
import { describe, expect, test } from '@jest/globals';
import { isAuthorized } from '../../../src/authorization/authorize.js';
import { computeRoutePolicy, contradictionOf } from '../../../src/authorization/route-policy.js';
import type { AuthContextData } from '../../../src/context/auth-context.js';
import { IS_PUBLIC } from '../../../src/decorators/metadata-keys.js';
import { PermissionRequired, Public, StaffOnly, SuperuserOnly } from '../../../src/index.js';

describe('the route policy and its check', () => {
  @Public()
  class OpenClass {
    plain() {}
    @SuperuserOnly()
    su() {}
    @PermissionRequired('a', 'b')
    both() {}
  }
  @PermissionRequired(['a', 'b'], { mode: 'any' })
  class PermClass {
    @Public()
    open() {}
    inherits() {}
    @StaffOnly()
    staff() {}
  }
  const auth = (over: Partial<AuthContextData> = {}): AuthContextData => ({
    userId: '1',
    isStaff: false,
    isSuperuser: false,
    permissions: [],
    backend: 'jwt',
    ...over,
  });

  test('precedence: a class-level @Public() opens only the methods with no authorization decorator', () => {
    expect(computeRoutePolicy(OpenClass.prototype.plain, OpenClass).isPublic).toBe(true);
    expect(computeRoutePolicy(OpenClass.prototype.su, OpenClass)).toMatchObject({ isPublic: false, superuserOnly: true, required: 'superuser' });
    expect(computeRoutePolicy(OpenClass.prototype.both, OpenClass)).toMatchObject({ isPublic: false, permissions: ['a', 'b'], required: 'all:a,b' });
    expect(computeRoutePolicy(PermClass.prototype.open, PermClass)).toMatchObject({ isPublic: true, permissions: undefined });
    expect(computeRoutePolicy(PermClass.prototype.inherits, PermClass)).toMatchObject({ anyPermission: true, permissions: ['a', 'b'] });
  });

  test('contradictions are found on a handler and on a class', () => {
    function handler() {}
    class Cls {}
    Reflect.defineMetadata(IS_PUBLIC, true, handler);
    Reflect.defineMetadata('nest-auth:staff-only', true, handler);
    expect(contradictionOf(handler, Cls)).toBe('Cls.handler');
    expect(contradictionOf(OpenClass.prototype.su, OpenClass)).toBeUndefined();
  });

  test('isAuthorized: all, any, staff, superuser', () => {
    const all = computeRoutePolicy(OpenClass.prototype.both, OpenClass);
    const any = computeRoutePolicy(PermClass.prototype.inherits, PermClass);
    const staff = computeRoutePolicy(PermClass.prototype.staff, PermClass);
    const su = computeRoutePolicy(OpenClass.prototype.su, OpenClass);
    expect(isAuthorized(all, auth({ permissions: ['a'] }))).toBe(false);
    expect(isAuthorized(all, auth({ permissions: ['a', 'b'] }))).toBe(true);
    expect(isAuthorized(any, auth({ permissions: ['b'] }))).toBe(true);
    expect(isAuthorized(any, auth({ permissions: ['c'] }))).toBe(false);
    expect(isAuthorized(staff, auth({ isStaff: true }))).toBe(false); // staff, but the class still needs a or b
    expect(isAuthorized(staff, auth({ isStaff: true, permissions: ['a'] }))).toBe(true);
    expect(isAuthorized(su, auth({ isStaff: true, permissions: ['a', 'b'] }))).toBe(false);
    expect(isAuthorized(su, auth({ isSuperuser: true }))).toBe(true);
    expect(isAuthorized(all, auth({ isSuperuser: true }))).toBe(true);
  });
});
