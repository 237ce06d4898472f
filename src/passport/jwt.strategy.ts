import { Injectable, type ExecutionContext } from '@nestjs/common';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { currentRequest } from '../context/request-context.js';
import { requestOf, type AuthCarrier } from '../context/request-of.js';
import { AuthCore } from '../core/auth-core.js';
import { AuthError } from '../errors/auth-error.js';
import { AuthHttpException } from '../errors/http-errors.js';
import { authOf } from '../guard/auth.guard.js';
import { verificationOf } from '../guard/verified-token-cache.js';
import { bearerTokenOf, rawTokenOf } from '../guard/credentials.js';
import { principalOf } from '../guard/principal.js';
import type { VerifiedClaims } from '../tokens/token.types.js';

const CLAIMS = Symbol('nest-auth:strict-claims');
type StrategyRequest = AuthCarrier & { [CLAIMS]?: VerifiedClaims };

/** jsonwebtoken 9, under passport-jwt, knows no EdDSA: those tokens are verified by the global guard only. */
const JSONWEBTOKEN_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512']);

/**
 * The `jwt` passport strategy, for apps that compose `AuthGuard('jwt')`
 * themselves (with `globalGuard: false`). Every token first goes through the
 * module's strict verifier and revocation check (in `secretOrKeyProvider`);
 * passport-jwt then checks it again with jsonwebtoken, given the key object of
 * the ring and `algorithms`, `issuer` and `audience` at the top level of its
 * options (inside `jsonWebTokenOptions` passport-jwt silently drops them).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(core: AuthCore) {
    const { jwt } = core.options;
    const bearer = jwt.header === 'authorization';
    super({
      passReqToCallback: true,
      jwtFromRequest: (req: StrategyRequest) => {
        try {
          const value = req.headers?.[jwt.header];
          return (bearer ? bearerTokenOf(value) : rawTokenOf(value)) ?? null;
        } catch {
          return null;
        }
      },
      secretOrKeyProvider: (req: StrategyRequest, rawJwt: string, done: (err: unknown, key?: unknown) => void) => {
        let claims: VerifiedClaims;
        try {
          claims = core.codec.verify(rawJwt, 'access');
        } catch (err) {
          return done(err instanceof AuthError ? err : new AuthError('token_invalid', 'Invalid token'));
        }
        core.gate.check(claims.jti, claims.sid, claims.sub, claims.iat).then(
          (v) => {
            if (v !== null) return done(new AuthError(v, 'The token has been revoked'));
            req[CLAIMS] = claims;
            const header = JSON.parse(Buffer.from(rawJwt.slice(0, rawJwt.indexOf('.')), 'base64url').toString('utf8'));
            done(null, core.codec.ring.select(header).verifyKey);
          },
          () => done(new AuthError('auth_unavailable', 'Authentication is temporarily unavailable')),
        );
      },
      algorithms: jwt.algorithms.filter((alg) => JSONWEBTOKEN_ALGORITHMS.has(alg)),
      issuer: jwt.issuer,
      audience: jwt.audience,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: jwt.clockTolerance },
    } as never);
  }

  validate(req: StrategyRequest): unknown {
    const claims = req[CLAIMS];
    if (!claims) throw new AuthError('token_invalid', 'Invalid token');
    const auth = authOf(verificationOf(claims));
    req.auth = auth;
    return principalOf(auth);
  }
}

/**
 * `AuthGuard('jwt')` that answers like the global guard: the API.md `code`
 * in the body of every 401.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  override canActivate(ctx: ExecutionContext) {
    // Entered before passport's first await, so AuthService.logout() and friends see this request.
    const req = requestOf(ctx);
    if (req) currentRequest.enterWith(req);
    return super.canActivate(ctx);
  }

  override handleRequest<TUser>(err: unknown, user: TUser, info: unknown, _ctx: ExecutionContext): TUser {
    if (user && !err) return user;
    const failure = err ?? info;
    if (failure instanceof AuthError) throw new AuthHttpException(failure.code, failure.message);
    if (failure instanceof Error && /no auth token/i.test(failure.message)) {
      throw new AuthHttpException('token_missing', 'Authentication is required');
    }
    throw new AuthHttpException('token_invalid', 'Invalid token');
  }
}
