import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import { AuthService } from '../auth.service.js';
import type { AuthContextData } from '../context/auth-context.js';
import type { AuthCarrier } from '../context/request-of.js';
import { AuthCore } from '../core/auth-core.js';
import { AuthError, type AuthErrorCode } from '../errors/auth-error.js';
import { bearerTokenOf, rawTokenOf } from '../guard/credentials.js';
import { principalOf } from '../guard/principal.js';
import type { CarrierOptions, TransportCarrier } from './transport-carrier.js';
import { graphqlWsCarrier, graphqlWsCloseOf, type GraphqlWsContext } from './graphql.js';
import { LiveConnections } from './live-connections.js';
import { loadTransportPeers } from './optional-peers.js';
import { asAuthError, bodyOf } from './transport-error.js';
import { rememberUpgradeRequest, toSocketIoConnectError, wsClientCarrier, wsCloseOf, type SocketIoClient, type WsClient } from './ws.js';

export const TRANSPORT_OPTIONS = Symbol('AUTH_TRANSPORT_OPTIONS');

export interface AuthTransportsOptions {
  /** Accept a socket.io handshake's `?token=` query parameter [false]: URLs are logged by proxies and servers, headers and `auth` are not. */
  allowQueryToken?: boolean;
}

/** A socket.io namespace or server middleware: `(socket, next) => void`. */
export type SocketIoMiddleware = (socket: SocketIoClient, next: (err?: Error) => void) => void;

/** Server event pushed to a socket.io client (and a ws client) before the module disconnects it. */
export const SESSION_ENDED_EVENT = 'session.ended';

/**
 * Connection-time authentication for realtime transports, and the registry
 * that ends those connections when their token stops being good.
 *
 * - socket.io: `server.use(transportAuth.socketIoMiddleware())` in the gateway's `afterInit`.
 * - ws (@nestjs/platform-ws): `transportAuth.acceptWs(client, request)` in `handleConnection`.
 * - graphql-ws: `subscriptions: { 'graphql-ws': transportAuth.graphqlWs() }` in GraphQLModule's options.
 *
 * No credential connects a guest (public handlers work, private ones answer
 * `token_missing`); a credential that fails refuses the connection with its code.
 */
@Injectable()
export class TransportAuth implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  readonly carrierOptions: CarrierOptions;
  private live: LiveConnections | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly logger = new Logger('AuthTransports');

  constructor(
    private readonly core: AuthCore,
    private readonly authService: AuthService,
    private readonly apiKeys: ApiKeyService,
    @Inject(TRANSPORT_OPTIONS) options: AuthTransportsOptions,
  ) {
    this.carrierOptions = { tokenHeader: core.options.jwt.header, allowQueryToken: options.allowQueryToken === true };
  }

  async onModuleInit(): Promise<void> {
    await loadTransportPeers();
  }

  onApplicationBootstrap(): void {
    const gate = this.core.gate;
    this.live = new LiveConnections((c) => gate.check(c.jti, c.sid, c.sub, c.iat), this.core.options.jwt.clockTolerance);
    // INTEGRATION: with a gate change hook (`gate.onChange(listener)`, called after every poll and local write),
    // sweep on it instead; this timer bounds the delay to poll interval + half an interval.
    const onChange = (gate as unknown as { onChange?: (listener: () => void) => void }).onChange;
    if (typeof onChange === 'function') {
      onChange.call(gate, () => void this.live?.sweep());
    } else {
      this.sweepTimer = setInterval(() => void this.live?.sweep(), Math.max(50, Math.floor(this.core.options.revocation.syncIntervalMs / 2)));
      this.sweepTimer.unref();
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweepTimer);
    this.live?.clear();
  }

  /** How many realtime connections this instance tracks. */
  get liveConnections(): number {
    return this.live?.size ?? 0;
  }

  /** Ends revoked connections now (the sweep also runs on its own). */
  sweep(): Promise<number> {
    return this.live?.sweep() ?? Promise.resolve(0);
  }

  /**
   * The module's authenticate stage for a carrier: the principal, undefined
   * for a guest (no credential), or a rejected `AuthError`.
   * INTEGRATION: becomes the lead's credentials -> authenticate -> gate.check pipeline.
   */
  async authenticate(carrier: TransportCarrier): Promise<AuthContextData | undefined> {
    const { jwt, apiKeys } = this.core.options;
    let token: string | undefined;
    let apiKey: string | undefined;
    try {
      const value = carrier.headers[jwt.header];
      token = jwt.header === 'authorization' ? bearerTokenOf(value) : rawTokenOf(value);
      if (apiKeys.enabled) {
        const raw = carrier.headers[apiKeys.header];
        if (raw !== undefined && raw !== '') {
          if (typeof raw !== 'string') throw new AuthError('api_key_invalid', 'Malformed API key header');
          apiKey = raw;
        }
      }
      if (token !== undefined && apiKey !== undefined) {
        throw new AuthError('token_invalid', 'Send either a bearer token or an API key, not both');
      }
      if (apiKey !== undefined) return await this.apiKeys.authenticate(apiKey);
      if (token === undefined) return undefined;
      const claims = await this.authService.verifyAccessToken(token);
      const permissions = Array.isArray(claims.permissions) ? claims.permissions.filter((p): p is string => typeof p === 'string') : [];
      return {
        userId: claims.sub,
        username: typeof claims.username === 'string' ? claims.username : undefined,
        isStaff: claims.is_staff === true,
        isSuperuser: claims.is_superuser === true,
        permissions,
        backend: 'jwt',
        claims: claims as unknown as Record<string, unknown>,
        sessionId: typeof claims.sid === 'string' ? claims.sid : undefined,
      };
    } catch (err) {
      throw this.authErrorOf(err);
    }
  }

  /** socket.io: authenticates the handshake; a failure refuses the connection (`connect_error` with `data: { code, message }`). */
  socketIoMiddleware(): SocketIoMiddleware {
    return (socket, next) => {
      const carrier = wsClientCarrier(socket, this.carrierOptions);
      if (carrier === undefined) return next(toSocketIoConnectError(new AuthError('token_missing', 'Authentication is required')));
      this.authenticate(carrier).then(
        (auth) => {
          if (auth !== undefined) {
            admit(socket, auth);
            this.track(socket, auth, (code) => endSocketIo(socket, code));
            (socket as unknown as { once(e: string, l: () => void): void }).once('disconnect', () => this.live?.remove(socket));
          }
          next();
        },
        (err: AuthError) => next(toSocketIoConnectError(err)),
      );
    };
  }

  /**
   * ws (@nestjs/platform-ws): call from `handleConnection(client, request)`.
   * Records the upgrade request for the message handlers and authenticates it;
   * a failure sends `{ event: 'exception', data: { status, code, message } }` and closes with 4401/4403/4503.
   * Resolves to the principal (undefined for a guest or a refused client).
   */
  async acceptWs(client: WsClient, request: IncomingMessage): Promise<AuthContextData | undefined> {
    rememberUpgradeRequest(client, request);
    const carrier = wsClientCarrier(client, this.carrierOptions) as TransportCarrier;
    try {
      const auth = await this.authenticate(carrier);
      if (auth !== undefined) {
        admit(client, auth);
        this.track(client, auth, (code) => endWs(client, code, SESSION_ENDED_EVENT));
        (client as unknown as { once(e: string, l: () => void): void }).once('close', () => this.live?.remove(client));
      }
      return auth;
    } catch (err) {
      endWs(client, (err as AuthError).code, 'exception');
      return undefined;
    }
  }

  /** graphql-ws server options: authenticate at `connection_init`, close with 4401/4403/4503 and the code as reason. */
  graphqlWs(): { onConnect: (ctx: GraphqlWsContext) => Promise<boolean>; onClose: (ctx: GraphqlWsContext) => void } {
    return {
      onConnect: async (ctx) => {
        try {
          const auth = await this.authenticate(graphqlWsCarrier(ctx, this.carrierOptions));
          if (auth !== undefined) {
            admit(ctx as AuthCarrier, auth);
            this.track(ctx, auth, (code) => closeGraphqlWs(ctx, new AuthError(code, code)));
          }
          return true;
        } catch (err) {
          closeGraphqlWs(ctx, err as AuthError);
          return false;
        }
      },
      onClose: (ctx) => this.live?.remove(ctx),
    };
  }

  private track(connection: object, auth: AuthContextData, end: (code: AuthErrorCode) => void): void {
    this.live?.add(connection, auth, end);
  }

  private authErrorOf(err: unknown): AuthError {
    const authError = asAuthError(err);
    if (authError !== undefined) return authError;
    // Never a crash for a credential: log what broke (no token in it) and refuse.
    this.logger.error(`credential check failed: ${err instanceof Error ? err.message : String(err)}`);
    return new AuthError('token_invalid', 'Invalid credentials');
  }
}

function admit(carrier: object, auth: AuthContextData): void {
  (carrier as AuthCarrier).auth = auth;
  (carrier as AuthCarrier).user = principalOf(auth);
}

function endSocketIo(socket: SocketIoClient, code: AuthErrorCode): void {
  socket.emit(SESSION_ENDED_EVENT, bodyOf(new AuthError(code, code)));
  socket.disconnect(true);
}

function endWs(client: WsClient, code: AuthErrorCode, event: string): void {
  const err = new AuthError(code, code);
  const close = wsCloseOf(err);
  if (client.readyState === 1) client.send(JSON.stringify({ event, data: { status: 'error', ...bodyOf(err) } }));
  client.close(close.code, close.reason);
}

function closeGraphqlWs(ctx: GraphqlWsContext, err: AuthError): void {
  const close = graphqlWsCloseOf(err);
  ctx.extra?.socket?.close(close.code, close.reason);
}
