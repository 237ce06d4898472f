import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayInit } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import {
  AuthContext,
  AuthService,
  CurrentUser,
  PermissionRequired,
  Public,
  StaffOnly,
  type AuthContextData,
  type AuthPrincipal,
} from '../../src/index.js';
import { TransportAuth, type WsClient } from '../../src/transports/index.js';

/** socket.io gateway as an app writes it: connection auth in afterInit, decorators per handler. */
@WebSocketGateway({ namespace: '/events' })
export class EventsGateway implements OnGatewayInit {
  constructor(
    private readonly transportAuth: TransportAuth,
    private readonly auth: AuthService,
  ) {}

  afterInit(server: { use(mw: unknown): void }): void {
    server.use(this.transportAuth.socketIoMiddleware());
  }

  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { id: user.id, username: user.username };
  }

  @Public()
  @SubscribeMessage('ping')
  ping(@CurrentUser() user: AuthPrincipal | undefined) {
    return { pong: true, username: user?.username ?? null };
  }

  @PermissionRequired('articles:write')
  @SubscribeMessage('write')
  write() {
    return { written: true };
  }

  @StaffOnly()
  @SubscribeMessage('staff')
  staff() {
    return { staff: true };
  }

  /** AuthService's context-bound methods act on this message's principal. */
  @SubscribeMessage('sessions')
  async sessions(@AuthContext() auth: AuthContextData, @MessageBody() delayMs?: number) {
    if (typeof delayMs === 'number') await new Promise((r) => setTimeout(r, delayMs));
    const sessions = await this.auth.listSessions();
    return { userId: auth.userId, current: sessions.filter((s) => s.current).map((s) => s.id) };
  }

  @SubscribeMessage('logout')
  async logout() {
    await this.auth.logout();
    return { ok: true };
  }
}

/** Plain ws gateway (@nestjs/platform-ws): connection auth in handleConnection. */
@WebSocketGateway({ path: '/ws' })
export class PlainWsGateway implements OnGatewayConnection {
  constructor(
    private readonly transportAuth: TransportAuth,
    private readonly auth: AuthService,
  ) {}

  async handleConnection(client: WsClient, request: IncomingMessage): Promise<void> {
    await this.transportAuth.acceptWs(client, request);
  }

  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { event: 'whoami', data: { id: user.id, username: user.username } };
  }

  @Public()
  @SubscribeMessage('ping')
  ping(@CurrentUser() user: AuthPrincipal | undefined) {
    return { event: 'ping', data: { pong: true, username: user?.username ?? null } };
  }

  @PermissionRequired('articles:write')
  @SubscribeMessage('write')
  write() {
    return { event: 'write', data: { written: true } };
  }

  @SubscribeMessage('logout')
  async logout(@ConnectedSocket() _client: WsClient) {
    await this.auth.logout();
    return { event: 'logout', data: { ok: true } };
  }
}
