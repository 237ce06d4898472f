// The NestJS docs recipe the module competes with: a global AuthGuard('jwt')
// on passport-jwt with a string secret, plus a permissions guard that reads
// metadata through Reflector on every request.
import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';

export const RECIPE_SECRET = 'bench-secret-that-is-long-enough-for-hs256!';
export const IS_PUBLIC_KEY = 'recipe:isPublic';
export const RecipePublic = () => SetMetadata(IS_PUBLIC_KEY, true);
export const PERMISSIONS_KEY = 'recipe:permissions';
export const RecipePermissions = (...permissions: string[]) => SetMetadata(PERMISSIONS_KEY, permissions);

@Injectable()
export class RecipeJwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor() {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), ignoreExpiration: false, secretOrKey: RECIPE_SECRET });
  }
  validate(payload: { sub: string; username: string; permissions: string[] }) {
    return { userId: payload.sub, username: payload.username, permissions: payload.permissions };
  }
}

@Injectable()
export class RecipeJwtGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }
  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    return super.canActivate(context);
  }
}

@Injectable()
export class RecipePermissionsGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndOverride<string[]>(PERMISSIONS_KEY, [context.getHandler(), context.getClass()]);
    if (!required) return true;
    const { user } = context.switchToHttp().getRequest();
    return required.every((p) => user?.permissions?.includes(p));
  }
}
