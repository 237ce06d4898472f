// Subpath export `@democrai/nest-auth/transports`: the realtime and RPC transports.
// Nothing here imports graphql, socket.io, ws or @nestjs/microservices statically.
export type { TransportCarrier, TransportType, CarrierOptions, CarrierHeaders, CarrierReader } from './transport-carrier.js';
export { graphqlCarrier, graphqlWsCarrier, toGraphqlError, graphqlWsCloseOf, AuthGraphqlError, type GraphqlWsContext } from './graphql.js';
export { wsCarrier, wsClientCarrier, toWsException, toSocketIoConnectError, wsCloseOf, type SocketIoClient, type WsClient } from './ws.js';
export { rpcCarrier, toRpcException } from './rpc.js';
export { loadTransportPeers } from './optional-peers.js';
export { LiveConnections } from './live-connections.js';
export { TransportAuth, SESSION_ENDED_EVENT, type AuthTransportsOptions, type SocketIoMiddleware, type GraphqlWsHooks } from './transport-auth.js';
export { AuthTransportsModule } from './transports.module.js';
