import { SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { CurrentUser, type AuthPrincipal } from '@democrai/nest-auth';
import { TransportAuth, type SocketIoMiddleware } from '@democrai/nest-auth/transports';

/**
 * socket.io namespace `/events`. The handshake is authenticated once
 * (`auth: { token }` or an `Authorization` header); a bad token gets
 * `connect_error` with `data.code`. When the token is revoked, its session
 * logged out or the user cut off, the server emits `session.ended` and disconnects.
 */
@WebSocketGateway({ namespace: '/events' })
export class EventsGateway implements OnGatewayInit {
  constructor(private readonly transportAuth: TransportAuth) {}

  afterInit(namespace: { use(middleware: SocketIoMiddleware): void }): void {
    namespace.use(this.transportAuth.socketIoMiddleware());
  }

  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { id: user.id, username: user.username, permissions: user.permissions };
  }
}
