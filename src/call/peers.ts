/**
 * The exception classes of the optional transport packages, loaded by dynamic
 * import so that an HTTP-only app installs none of them. Their filters test
 * `instanceof`, so the class must be the app's own copy: import() resolves the
 * same module the app uses. A transport whose package is absent cannot be in
 * use, so its class is simply never needed.
 */
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
      (m) => (peers.WsException = m.WsException as ErrorClass),
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
