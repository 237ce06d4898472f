// Subpath export `@democrai/nest-auth/transports`: the realtime and RPC transports.
// Nothing here imports graphql, socket.io, ws or @nestjs/microservices statically.
// The per-transport readers and mappers live in the core's src/call/ (they load no transport package either).
export type { TransportCarrier, TransportType, CarrierOptions, CarrierHeaders, CarrierReader } from '../call/carrier.js';
export { graphqlCarrier, graphqlWsCarrier, toGraphqlError, graphqlWsCloseOf, AuthGraphqlError, type GraphqlWsContext } from '../call/graphql.js';
export { wsCarrier, wsClientCarrier, toWsException, toSocketIoConnectError, wsCloseOf, type SocketIoClient, type WsClient } from '../call/ws.js';
export { rpcCarrier, toRpcException } from '../call/rpc.js';
export { loadTransportPeers } from '../call/peers.js';
export { LiveConnections } from './live-connections.js';
export { TransportAuth, SESSION_ENDED_EVENT, type AuthTransportsOptions, type SocketIoMiddleware, type GraphqlWsHooks } from './transport-auth.js';
export { AuthTransportsModule } from './transports.module.js';
