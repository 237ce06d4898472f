import 'reflect-metadata';
import { afterEach, describe, expect, test } from '@jest/globals';
import { UseGuards, type INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { AuthConfigError, CurrentUser, JwtAuthGuard, NestAuthGuard, PermissionRequired, type AuthPrincipal } from '../../src/index.js';
import { TransportAuth } from '../../src/transports/index.js';
import { assertGatewaysGuarded, installedWebsocketsVersion } from '../../src/guard/gateway-guards.js';
import { SECRET } from '../support/app.js';
import { bootTransportApp, nextEvent, tokenFor } from '../support/transports.js';
import { MemoryUsers } from '../support/users.js';
import { PlainWsGateway } from './gateways.js';

/**
 * The gateway as the boot error tells a Nest 11 app to write it: the module's guard placed on the class. socket.io,
 * because Nest 11's exception filter answers a plain `ws` client with a local `emit` that never reaches the wire.
 */
@UseGuards(NestAuthGuard)
@WebSocketGateway({ namespace: '/guarded' })
class GuardedGateway implements OnGatewayInit {
  constructor(private readonly transportAuth: TransportAuth) {}

  afterInit(server: { use(mw: unknown): void }): void {
    server.use(this.transportAuth.socketIoMiddleware());
  }

  @SubscribeMessage('whoami')
  whoami(@CurrentUser() user: AuthPrincipal) {
    return { username: user.username };
  }

  @PermissionRequired('articles:write')
  @SubscribeMessage('write')
  write() {
    return { written: true };
  }
}

// Class shapes for the decision alone (never booted).
@WebSocketGateway()
class Unguarded {
  @SubscribeMessage('a')
  a() {}
}
@WebSocketGateway()
class EveryHandlerGuarded {
  @UseGuards(JwtAuthGuard)
  @SubscribeMessage('a')
  a() {}
  @UseGuards(NestAuthGuard)
  @SubscribeMessage('b')
  b() {}
}
@WebSocketGateway()
class OneHandlerUnguarded {
  @UseGuards(NestAuthGuard)
  @SubscribeMessage('a')
  a() {}
  @SubscribeMessage('b')
  b() {}
}
class OtherGuard {
  canActivate() {
    return true;
  }
}
@UseGuards(OtherGuard)
@WebSocketGateway()
class ForeignGuard {
  @SubscribeMessage('a')
  a() {}
}

const ours = (g: unknown) => g === NestAuthGuard || g === JwtAuthGuard;
const nest11 = () => '11.2.6';
const nest12 = () => '12.1.1';

describe('gateways on a @nestjs/websockets that runs no global guard on them (the decision)', () => {
  test('Nest 11 + a gateway without the module guard: AuthConfigError naming the class and the fix', () => {
    let error: unknown;
    try {
      assertGatewaysGuarded([GuardedGateway, Unguarded], ours, nest11);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AuthConfigError);
    expect((error as Error).message).toContain('Unguarded');
    expect((error as Error).message).not.toContain('GuardedGateway');
    expect((error as Error).message).toContain('add @UseGuards(NestAuthGuard) to the gateway class, or upgrade to NestJS 12');
  });

  test('Nest 11: a handler left without the guard, or only a foreign guard, is unguarded', () => {
    expect(() => assertGatewaysGuarded([OneHandlerUnguarded], ours, nest11)).toThrow(/OneHandlerUnguarded/);
    expect(() => assertGatewaysGuarded([ForeignGuard], ours, nest11)).toThrow(/ForeignGuard/);
  });

  test('Nest 11: the guard on the class, or on every handler, boots; no gateway boots', () => {
    expect(() => assertGatewaysGuarded([GuardedGateway, EveryHandlerGuarded], ours, nest11)).not.toThrow();
    expect(() => assertGatewaysGuarded([], ours, nest11)).not.toThrow();
  });

  test('Nest 12 (or a package.json the exports map hides): nothing changes', () => {
    expect(() => assertGatewaysGuarded([Unguarded, ForeignGuard], ours, nest12)).not.toThrow();
    expect(() => assertGatewaysGuarded([Unguarded], ours, () => undefined)).not.toThrow();
  });
});

/** Runs on whichever @nestjs/websockets is installed: Nest 12 in the normal suite, 11 under `npm run test:nest11`. */
describe(`gateways booted on the installed @nestjs/websockets (${installedWebsocketsVersion() ?? '12+'})`, () => {
  const onNest11 = Number((installedWebsocketsVersion() ?? '12').split('.')[0]) < 12;
  let app: INestApplication | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await app?.close();
    app = undefined;
  });

  const boot = async (gateway: Function) => {
    const users = await MemoryUsers.create();
    const booted = await bootTransportApp(
      { jwt: { secret: SECRET }, users },
      // Plain ws gateways need the ws adapter; socket.io is Nest's default.
      { providers: [gateway as never], configure: gateway === PlainWsGateway ? (a) => void a.useWebSocketAdapter(new WsAdapter(a)) : undefined },
    );
    app = booted.app;
    return { ...booted, users };
  };
  /** One message on a fresh socket.io connection to /guarded: its ack, or the `exception` event instead. */
  const call = async (url: string, event: string, token?: string) => {
    const socket = io(`${url}/guarded`, { transports: ['websocket'], reconnection: false, auth: token === undefined ? {} : { token } });
    sockets.push(socket);
    await nextEvent(socket, 'connect');
    return new Promise<{ ack?: any; exception?: any }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 5000);
      socket.once('exception', (exception: unknown) => (clearTimeout(timer), resolve({ exception })));
      socket.emit(event, {}, (ack: unknown) => (clearTimeout(timer), resolve({ ack })));
    });
  };

  test('@UseGuards(NestAuthGuard) on the class: token missing refused, permission lacking denied, granted served', async () => {
    const { url, auth, users } = await boot(GuardedGateway);
    expect(await call(url, 'whoami')).toEqual({ exception: { status: 'error', code: 'token_missing', message: expect.any(String) } });
    const alice = await tokenFor(auth, users.get('alice'));
    expect(await call(url, 'whoami', alice)).toEqual({ ack: { username: 'alice' } });
    expect(await call(url, 'write', alice)).toEqual({ exception: { status: 'error', code: 'permission_denied', message: expect.any(String) } });
    expect(await call(url, 'write', await tokenFor(auth, users.get('bob')))).toEqual({ ack: { written: true } });
  });

  if (onNest11) {
    test('a gateway without the guard: the boot fails with AuthConfigError naming it', async () => {
      await expect(boot(PlainWsGateway)).rejects.toThrow(
        /PlainWsGateway.*add @UseGuards\(NestAuthGuard\) to the gateway class, or upgrade to NestJS 12/,
      );
    });
  } else {
    test('a gateway without the guard boots, and the global guard protects it', async () => {
      const { url } = await boot(PlainWsGateway);
      const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      const frame = new Promise<any>((r) => ws.once('message', (raw) => r(JSON.parse(String(raw)))));
      ws.send(JSON.stringify({ event: 'whoami', data: {} }));
      expect((await frame).data.code).toBe('token_missing');
      ws.terminate();
    });
  }
});
