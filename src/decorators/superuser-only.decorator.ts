import { routeDecorator } from './route-metadata.js';
import { SUPERUSER_ONLY } from './metadata-keys.js';

/** The principal must be a superuser. Never satisfied by an API key. */
export const SuperuserOnly = (): MethodDecorator & ClassDecorator => routeDecorator(SUPERUSER_ONLY, true);
