import { Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post } from '@nestjs/common';
import { AuthService, CurrentUser, LoginDto, Public, RefreshTokenDto, type AuthPrincipal } from '@democrai/nest-auth';

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

  /** Ends this session only. */
  @Post('logout')
  @HttpCode(204)
  async logout(): Promise<void> {
    await this.auth.logout();
  }

  /** Ends every session of the caller, on every instance. */
  @Post('logout-all')
  @HttpCode(204)
  async logoutAll(@CurrentUser() user: AuthPrincipal): Promise<void> {
    await this.auth.revokeAllForUser(user.id);
  }

  @Get('sessions')
  sessions() {
    return this.auth.listSessions();
  }

  @Delete('sessions/:id')
  @HttpCode(204)
  async endSession(@Param('id') id: string): Promise<void> {
    if (!(await this.auth.endSession(id))) throw new NotFoundException('No such session');
  }
}
