import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { CurrentUser, PermissionRequired, type AuthPrincipal } from '@democrai/nest-auth';

/**
 * Served over NATS when NATS_URL is set. Send the token as a NATS header
 * (`new NatsRecordBuilder(data).setHeaders(h)` with `h.set('authorization', 'Bearer …')`)
 * or, where headers cannot be sent, as the payload field `auth.token`.
 */
@Controller()
export class ArticlesRpc {
  @PermissionRequired('articles:read')
  @MessagePattern('sample.articles.whoami')
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { id: user.id, username: user.username };
  }
}
