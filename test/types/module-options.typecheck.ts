/**
 * Compiled by `npm run typecheck` (CI), never run: each `@ts-expect-error`
 * must meet an error, so a typo in the options that compiled would fail CI.
 */
import { AuthModule } from '../../src/index.js';

const secret = 'x'.repeat(32);

AuthModule.forRoot({ jwt: { secret }, globalGuard: false, jwksRoute: true });
AuthModule.forRootAsync({ useFactory: () => ({ jwt: { secret } }), globalGuard: false });
AuthModule.forRootAsync({ useFactory: async () => ({ jwt: { secret }, store: 'memory' }) });
AuthModule.forRootAsync({
  imports: [],
  inject: ['X'],
  useFactory: (x: string) => ({ jwt: { secret: x, accessTokenTtl: 60 }, revocation: { syncIntervalMs: 500 } }),
});

// @ts-expect-error an unknown option in forRoot
AuthModule.forRoot({ jwt: { secret }, sessionStore: 'memory' });
// @ts-expect-error an unknown jwt option in forRoot
AuthModule.forRoot({ jwt: { secret, algorithm: 'HS256' } });
// @ts-expect-error an unknown option returned by forRootAsync's factory
AuthModule.forRootAsync({ useFactory: () => ({ jwt: { secret }, sessionStore: 'memory' }) });
// @ts-expect-error a typo in jwt, returned by an async factory
AuthModule.forRootAsync({ useFactory: async () => ({ jwt: { secret, accesTokenTtl: 60 } }) });
// A factory that returns no jwt type-checks since trustedIssuers made jwt optional: the boot refuses it, naming jwt.
AuthModule.forRootAsync({ useFactory: () => ({ store: 'memory' }) });
