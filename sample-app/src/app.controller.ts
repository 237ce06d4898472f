import { Controller, Get } from '@nestjs/common';
import { CurrentUser, Public, type AuthPrincipal } from '@democrai/nest-auth';

@Controller()
export class AppController {
  @Public()
  @Get('health')
  health() {
    return { status: 'ok' };
  }

  @Get('me')
  me(@CurrentUser() user: AuthPrincipal) {
    return user;
  }
}
