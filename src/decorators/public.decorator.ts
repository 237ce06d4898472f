import { routeDecorator } from './route-metadata.js';
import { IS_PUBLIC } from './metadata-keys.js';

/** Opens a route (or every route of a controller) to guests. A valid token, if sent, still fills the principal. */
export const Public = (): MethodDecorator & ClassDecorator => routeDecorator(IS_PUBLIC, true);
