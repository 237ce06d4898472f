import { SetMetadata } from '@nestjs/common';
import { SKIP_LOGIN_THROTTLE } from './metadata-keys.js';

/**
 * The logins of this route (or of every route of this controller) are not
 * counted or refused by `loginThrottle`: for apps with throttling of their own.
 * The password-check queue stays bounded.
 */
export const SkipLoginThrottle = (): MethodDecorator & ClassDecorator => SetMetadata(SKIP_LOGIN_THROTTLE, true);
