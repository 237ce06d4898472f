import { SetMetadata } from '@nestjs/common';
import { SUPERUSER_ONLY } from './metadata-keys.js';

/** The principal must be a superuser. Never satisfied by an API key. */
export const SuperuserOnly = (): MethodDecorator & ClassDecorator => SetMetadata(SUPERUSER_ONLY, true);
