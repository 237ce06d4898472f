import { routeDecorator } from './route-metadata.js';
import { STAFF_ONLY } from './metadata-keys.js';

/** The principal must be staff or superuser. Never satisfied by an API key. */
export const StaffOnly = (): MethodDecorator & ClassDecorator => routeDecorator(STAFF_ONLY, true);
