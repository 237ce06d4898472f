import { hasAuthorizationMetadata, hasPublicMetadata, IS_PUBLIC } from './metadata-keys.js';

/**
 * Sets one of the module's route decorators on a method or a class, refusing
 * `@Public()` next to an authorization decorator on the same target: the
 * contradiction fails while the controller is loaded, naming it. (The boot
 * checks every route again, for metadata set by other means.)
 */
export function routeDecorator(key: string, value: unknown): MethodDecorator & ClassDecorator {
  return (target: object, property?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder: object = descriptor ? (descriptor.value as object) : target;
    if (key === IS_PUBLIC ? hasAuthorizationMetadata(holder) : hasPublicMetadata(holder)) {
      const name = descriptor ? `${(target as { constructor: Function }).constructor.name}.${String(property)}` : (target as Function).name;
      throw new TypeError(`${name}: @Public() together with @PermissionRequired, @StaffOnly or @SuperuserOnly on the same target is a contradiction`);
    }
    Reflect.defineMetadata(key, value, holder);
    return descriptor as never;
  };
}
