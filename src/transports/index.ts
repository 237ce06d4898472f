// Subpath export `@democrai/nest-auth/transports`: the realtime and RPC transports.
// Nothing here imports graphql, socket.io, ws or @nestjs/microservices statically.
export type { TransportCarrier, TransportType, CarrierOptions, CarrierHeaders, CarrierReader } from '../call/carrier.js';
// What an app uses: the module, the TransportAuth service and the types of its hooks; the carriers and failure
// mappers per transport are the module's own (in src/call/).
export { AuthGraphqlError, type GraphqlWsContext } from '../call/graphql.js';
export type { SocketIoClient, WsClient } from '../call/ws.js';
export { TransportAuth, SESSION_ENDED_EVENT, type AuthTransportsOptions, type SocketIoMiddleware, type GraphqlWsHooks } from './transport-auth.js';
export { AuthTransportsModule } from './transports.module.js';
