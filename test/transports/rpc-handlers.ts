import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { AuthService, CurrentUser, PermissionRequired, Public, type AuthPrincipal } from '../../src/index.js';

export const received: unknown[] = [];

/** Message handlers as an app writes them. Subjects carry the engineer's prefix (shared NATS server). */
@Controller()
export class RpcHandlers {
  constructor(private readonly auth: AuthService) {}

  @MessagePattern('transports.whoami')
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { id: user.id, username: user.username };
  }

  @Public()
  @MessagePattern('transports.ping')
  ping(@CurrentUser() user: AuthPrincipal | undefined) {
    return { pong: true, username: user?.username ?? null };
  }

  @PermissionRequired('articles:write')
  @MessagePattern('transports.write')
  write() {
    return { written: true };
  }

  @MessagePattern('transports.sessions')
  async sessions(@Payload() data: { delayMs?: number }) {
    if (data?.delayMs) await new Promise((r) => setTimeout(r, data.delayMs));
    return (await this.auth.listSessions()).filter((s) => s.current).map((s) => s.id);
  }

  @PermissionRequired('articles:write')
  @EventPattern('transports.event')
  event(@Payload() data: unknown) {
    received.push(data);
  }
}
