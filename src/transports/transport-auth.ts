import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { Authenticator } from '../authentication/authenticator.js';
import { principalOf } from '../authentication/principal.js';
import type { AuthContextData } from '../call/auth-data.js';
import { TRANSPORT_OPTIONS, type AuthTarget, type AuthTransportsOptions, type CarrierOptions, type TransportCarrier } from '../call/carrier.js';
import { rememberUpgradeRequest } from '../call/client.js';
import { extraOf, graphqlWsCarrier, graphqlWsCloseOf, type GraphqlWsContext } from '../call/graphql.js';
import { loadTransportPeers } from '../call/peers.js';
import { toSocketIoConnectError, wsClientCarrier, wsCloseOf, type SocketIoClient, type WsClient } from '../call/ws.js';
import { grantCall } from '../context/call-grant.js';
import { apiKeyHeaderSource, readCredential, tokenHeaderSource, type CredentialSource } from '../credentials/credential.js';
import { AuthError, type AuthErrorCode } from '../errors/auth-error.js';
import { bodyOf, refusalOf } from '../errors/bodies.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { RevocationGate } from '../revocation/revocation-gate.js';
import { LiveConnections } from './live-connections.js';

export { TRANSPORT_OPTIONS, type AuthTransportsOptions } from '../call/carrier.js';

/** A socket.io namespace or server middleware: `(socket, next) => void`. */
export type SocketIoMiddleware = (socket: SocketIoClient, next: (err?: Error) => void) => void;

/** graphql-ws server hooks (method syntax: graphql-ws's own Context type is accepted). */
export interface GraphqlWsHooks {
  onConnect(ctx: GraphqlWsContext): Promise<boolean>;
  onClose(ctx: GraphqlWsContext): void;
}

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
  private readonly sources: CredentialSource[];
  private live: LiveConnections | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopWatching: (() => void) | undefined;
  private stopWatchingKeys: (() => void) | undefined;
  private keySweepTimer: NodeJS.Timeout | undefined;
  private readonly logger = new Logger('AuthTransports');

  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Inject(TRANSPORT_OPTIONS) transportOptions: AuthTransportsOptions,
    private readonly authenticator: Authenticator,
    private readonly gate: RevocationGate,
    private readonly apiKeys: ApiKeyService,
  ) {
    this.carrierOptions = { tokenHeader: options.jwt.header, allowQueryToken: transportOptions.allowQueryToken === true };
    this.sources = [tokenHeaderSource(options.jwt.header)];
    if (options.apiKeys.enabled) this.sources.push(apiKeyHeaderSource(options.apiKeys.header));
  }

  async onModuleInit(): Promise<void> {
    await loadTransportPeers();
  }

  onApplicationBootstrap(): void {
    const gate = this.gate;
    this.live = new LiveConnections(
      (c) => gate.check(c),
      this.options.jwt.clockTolerance,
      () => this.options.clock.now(),
      (prefix) => this.apiKeys.stillUsable(prefix),
    );
    // Cached mode: the gate says when it learnt of a revocation (poll, channel, this instance), and the live
    // connections are checked then. Strict mode keeps nothing in memory to watch: a sweep every half interval.
    // A macrotask later: a handler that logged its own connection out answers before the connection ends.
    this.stopWatching = gate.onChange(() => void setTimeout(() => void this.live?.sweep(), 0));
    // API keys live in their own store, not in the gate: connections opened with one are checked against
    // it every syncIntervalMs (one read per distinct key), and at once after a revoke on this instance.
    if (this.options.apiKeys.enabled) {
      this.stopWatchingKeys = this.apiKeys.onRevoke(() => void setTimeout(() => void this.live?.sweepKeys(), 0));
      this.keySweepTimer = setInterval(() => void this.live?.sweepKeys(), this.options.revocation.syncIntervalMs);
      this.keySweepTimer.unref();
    }
    if (gate.mode === 'strict') {
      this.sweepTimer = setInterval(() => void this.live?.sweep(), Math.max(50, Math.floor(this.options.revocation.syncIntervalMs / 2)));
      this.sweepTimer.unref();
    }
  }

  onApplicationShutdown(): void {
    this.stopWatching?.();
    this.stopWatchingKeys?.();
    clearInterval(this.sweepTimer);
    clearInterval(this.keySweepTimer);
    this.live?.clear();
  }

  /** How many realtime connections this instance tracks. */
  get liveConnections(): number {
    return this.live?.size ?? 0;
  }

  /** Ends revoked connections (tokens and API keys) now (the sweeps also run on their own). */
  async sweep(): Promise<number> {
    if (!this.live) return 0;
    const [tokens, keys] = await Promise.all([this.live.sweep(), this.live.sweepKeys()]);
    return tokens + keys;
  }

  /**
   * The module's authenticate stage for a carrier: the principal, undefined
   * for a guest (no credential), or a rejected `AuthError`.
   */
  async authenticate(carrier: TransportCarrier): Promise<AuthContextData | undefined> {
    return (await this.admission(carrier))?.auth;
  }

  /** `authenticate`, plus the public prefix of the API key it used (to track the connection by). */
  private async admission(carrier: TransportCarrier): Promise<{ auth: AuthContextData; keyPrefix?: string } | undefined> {
    try {
      const credential = readCredential(this.sources, carrier);
      if (credential === undefined) return undefined;
      const auth = await this.authenticator.authenticate(credential);
      const keyPrefix = credential.kind === 'api_key' ? this.apiKeys.prefixOf(credential.key) : undefined;
      return keyPrefix === undefined ? { auth } : { auth, keyPrefix };
    } catch (err) {
      throw this.authErrorOf(err);
    }
  }

  /** socket.io: authenticates the handshake; a failure refuses the connection (`connect_error` with `data: { code, message }`). */
  socketIoMiddleware(): SocketIoMiddleware {
    return (socket, next) => {
      const carrier = wsClientCarrier(socket, this.carrierOptions);
      if (carrier === undefined) return next(toSocketIoConnectError(new AuthError('token_missing', 'unknown_client')));
      this.admission(carrier).then(
        (admitted) => {
          if (admitted !== undefined) {
            admit(socket, admitted.auth, carrier);
            this.track(socket, admitted, (code) => endSocketIo(socket, code));
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
      const admitted = await this.admission(carrier);
      if (admitted !== undefined) {
        admit(client, admitted.auth, carrier);
        this.track(client, admitted, (code) => endWs(client, code, SESSION_ENDED_EVENT));
        (client as unknown as { once(e: string, l: () => void): void }).once('close', () => this.live?.remove(client));
      }
      return admitted?.auth;
    } catch (err) {
      endWs(client, (err as AuthError).code, 'exception');
      return undefined;
    }
  }

  /** graphql-ws server options: authenticate at `connection_init`, close with 4401/4403/4503 and the code as reason. */
  graphqlWs(): GraphqlWsHooks {
    return {
      onConnect: async (ctx) => {
        try {
          const carrier = graphqlWsCarrier(ctx, this.carrierOptions);
          const admitted = await this.admission(carrier);
          if (admitted !== undefined) {
            admit(ctx, admitted.auth, carrier);
            this.track(ctx, admitted, (code) => closeGraphqlWs(ctx, new AuthError(code)));
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

  private track(connection: object, admitted: { auth: AuthContextData; keyPrefix?: string }, end: (code: AuthErrorCode) => void): void {
    if (admitted.keyPrefix !== undefined) this.live?.addApiKey(connection, admitted.keyPrefix, end);
    else this.live?.add(connection, admitted.auth, end);
  }

  private authErrorOf(err: unknown): AuthError {
    const authError = refusalOf(err);
    if (authError !== undefined) return authError;
    // Not the credential's fault (a store, a bug): log what broke, with no token in it, and answer 503.
    this.logger.error(`credential check failed: ${err instanceof Error ? err.message : String(err)}`);
    return new AuthError('auth_unavailable', 'unexpected_error');
  }
}

function admit(target: object, auth: AuthContextData, carrier: TransportCarrier): void {
  (target as AuthTarget).auth = auth;
  (target as AuthTarget).user = principalOf(auth);
  // The connection's principal, for the explicit form of the session methods in code that serves this connection.
  grantCall(auth, carrier);
}

function endSocketIo(socket: SocketIoClient, code: AuthErrorCode): void {
  socket.emit(SESSION_ENDED_EVENT, bodyOf(new AuthError(code)));
  socket.disconnect(true);
}

function endWs(client: WsClient, code: AuthErrorCode, event: string): void {
  const err = new AuthError(code);
  const close = wsCloseOf(err);
  if (client.readyState === 1) client.send(JSON.stringify({ event, data: { status: 'error', ...bodyOf(err) } }));
  client.close(close.code, close.reason);
}

function closeGraphqlWs(ctx: GraphqlWsContext, err: AuthError): void {
  const close = graphqlWsCloseOf(err);
  extraOf(ctx)?.socket?.close(close.code, close.reason);
}
