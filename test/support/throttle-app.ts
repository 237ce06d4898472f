import type { INestApplication } from '@nestjs/common';
import type { AuthModuleForRootOptions } from '../../src/index.js';
import { bootApp, type BootOptions } from './app.js';

/** The module's options, `loginThrottle` included. */
export type ThrottledAuthOptions = AuthModuleForRootOptions;

/** A real app with the module's login throttle (on by default): `bootApp` under the name the throttle specs use. */
export function bootThrottledApp(options: ThrottledAuthOptions, extra: BootOptions = {}): Promise<INestApplication> {
  return bootApp(options, extra);
}
