import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { computeRoutePolicy, type RoutePolicy } from '../authorization/route-policy.js';
import { tokenHeaderSource } from '../credentials/credential.js';
import { AuthPipeline } from '../guard/auth-pipeline.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import type { AuthTarget, Carrier } from '../call/carrier.js';
import { recordedCall } from '../call/record.js';

/** What passport gives a strategy's `authenticate` as `this`. */
interface PassportActions {
  success(user: unknown, info?: unknown): void;
  error(err: unknown): void;
  pass(): void;
}

/** A route no module guard has seen: private, no further requirement. */
const UNSTAMPED_POLICY: RoutePolicy = computeRoutePolicy(function unknownHandler() {}, class UnknownRoute {});

/**
 * The `jwt` passport strategy, for apps that compose `AuthGuard('jwt')` from
 * `@nestjs/passport` (for instance with strategies of their own). It runs the
 * module's own pipeline: the strict verifier, the revocation check and the
 * route policy (`@Public`, permissions, staff, superuser) with the same codes
 * as `NestAuthGuard`. Passport is loaded when the module initialises, and only
 * if the app has it installed: nothing else in the module needs it.
 */
@Injectable()
export class JwtStrategy implements OnModuleInit {
  private readonly logger = new Logger('JwtStrategy');
  private readonly sources;

  constructor(
    private readonly pipeline: AuthPipeline,
    @Inject(AUTH_OPTIONS) options: ResolvedAuthOptions,
  ) {
    this.sources = [tokenHeaderSource(options.jwt.header)];
  }

  async onModuleInit(): Promise<void> {
    let passport: { use(name: string, strategy: object): unknown };
    try {
      passport = ((await import('passport')) as { default: typeof passport }).default;
    } catch {
      this.logger.debug('passport is not installed: the "jwt" strategy is not registered (NestAuthGuard and JwtAuthGuard need none)');
      return;
    }
    passport.use('jwt', this.passportStrategy());
  }

  /** The object passport calls: `authenticate(req)` with success/error/pass bound on `this`. */
  passportStrategy(): { name: string; authenticate(this: PassportActions, req: AuthTarget): void } {
    const { pipeline, sources } = this;
    return {
      name: 'jwt',
      authenticate(this: PassportActions, req: AuthTarget) {
        const call = recordedCall(req);
        const carrier: Carrier = call?.carrier ?? { type: 'http', target: req, headers: req.headers as Record<string, unknown>, response: req.res };
        const finish = () => (carrier.target.user !== undefined ? this.success(carrier.target.user) : this.pass());
        try {
          const verdict = pipeline.run(call?.handler, carrier, call?.policy ?? UNSTAMPED_POLICY, sources);
          if (verdict instanceof Promise) verdict.then(finish, (err: unknown) => this.error(err));
          else finish();
        } catch (err) {
          this.error(err);
        }
      },
    };
  }
}
