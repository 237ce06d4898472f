/**
 * The exception classes of the optional transport packages, loaded by dynamic
 * import so that an HTTP-only app installs none of them. Their filters test
 * `instanceof`, so the class must be the app's own copy: import() resolves the
 * same module the app uses. A transport whose package is absent cannot be in
 * use, so its class is simply never needed.
 */
import { Logger } from '@nestjs/common';
import { createRequire } from 'node:module';

type ErrorClass = new (error: string | object) => Error;

export interface TransportPeers {
  WsException?: ErrorClass;
  RpcException?: ErrorClass;
}

const peers: TransportPeers = {};
let loading: Promise<TransportPeers> | undefined;

export function loadTransportPeers(): Promise<TransportPeers> {
  loading ??= Promise.all([
    import('@nestjs/websockets').then(
      (m) => {
        peers.WsException = m.WsException as ErrorClass;
        warnIfGatewaysUnguarded();
      },
      () => undefined,
    ),
    import('@nestjs/microservices').then(
      (m) => (peers.RpcException = m.RpcException as ErrorClass),
      () => undefined,
    ),
  ]).then(() => peers);
  return loading;
}

/** Synchronous access for the guard's throw path; filled once `loadTransportPeers()` has settled (at boot). */
export function transportPeers(): TransportPeers {
  return peers;
}

/**
 * Nest 11's @nestjs/websockets builds a gateway's guards without the application's config, so no global guard
 * (APP_GUARD, ours) runs on a gateway handler; Nest 12 passes it. Said once at boot: the peer range admits 11 so
 * that HTTP apps on Nest 11 install, but gateways there are not protected (README, "Install").
 */
function warnIfGatewaysUnguarded(): void {
  let version: string | undefined;
  try {
    version = (createRequire(import.meta.url)('@nestjs/websockets/package.json') as { version?: string }).version;
  } catch {
    return; // a package.json the exports map does not expose: Nest 12 or later
  }
  if (version !== undefined && Number(version.split('.')[0]) < 12) {
    new Logger('AuthModule').warn(
      `@nestjs/websockets ${version} runs no global guard on gateway handlers: WebSocket gateways are not protected by the AuthModule guard before NestJS 12`,
    );
  }
}
