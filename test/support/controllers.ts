import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import {
  AuthContext,
  AuthService,
  CurrentUser,
  LoginDto,
  PermissionRequired,
  Public,
  RefreshTokenDto,
  StaffOnly,
  SuperuserOnly,
  type AuthContextData,
  type AuthPrincipal,
} from '../../src/index.js';

/** Routes that exercise every decorator, as an app would write them. */
@Controller()
export class OpenController {
  @Public()
  @Get('public')
  open(@CurrentUser() user: AuthPrincipal | undefined) {
    return { user: user ?? null };
  }

  @Get('private')
  private(@CurrentUser() user: AuthPrincipal) {
    return { user };
  }

  @Get('context')
  context(@AuthContext() auth: AuthContextData) {
    return { auth };
  }
}

@Controller('articles')
@PermissionRequired('articles:read')
export class ArticlesController {
  @Get()
  list() {
    return { articles: [] };
  }

  /** Method-level overrides class-level. */
  @Post()
  @PermissionRequired(['articles:write', 'articles:publish'], { mode: 'any' })
  create() {
    return { created: true };
  }

  @Get('both')
  @PermissionRequired('articles:read', 'articles:write')
  both() {
    return { ok: true };
  }

  /** @Public on a method opens it inside a class that requires permissions. */
  @Public()
  @Get('teaser')
  teaser() {
    return { teaser: true };
  }
}

@Controller('admin')
export class AdminController {
  @SuperuserOnly()
  @Get('stats')
  stats() {
    return { stats: true };
  }

  @StaffOnly()
  @Get('report')
  report() {
    return { report: true };
  }
}

@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  login(@Body() body: LoginDto) {
    return this.auth.login(body.username, body.password);
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  refresh(@Body() body: RefreshTokenDto) {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('refresh-current')
  @HttpCode(200)
  refreshCurrent() {
    return this.auth.refreshCurrentSessionToken();
  }

  @Post('logout')
  @HttpCode(204)
  async logout() {
    await this.auth.logout();
  }

  @Post('logout-all')
  @HttpCode(204)
  async logoutAll(@CurrentUser() user: AuthPrincipal) {
    await this.auth.revokeAllForUser(user.id);
  }

  @Get('sessions')
  sessions() {
    return this.auth.listSessions();
  }
}

export const ALL_CONTROLLERS = [OpenController, ArticlesController, AdminController, AuthController];
