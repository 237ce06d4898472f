import { Module } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { AuthTransportsModule, TransportAuth } from '@democrai/nest-auth/transports';
import { ArticlesResolver } from './articles.resolver.js';
import { ArticlesRpc } from './articles.rpc.js';
import { EventsGateway } from './events.gateway.js';

/**
 * GraphQL at `/graphql` (queries, mutations, graphql-ws subscriptions),
 * socket.io at `/events`, and the NATS handlers (connected in nats.ts when NATS_URL is set).
 */
@Module({
  imports: [
    AuthTransportsModule.forRoot(),
    GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      inject: [TransportAuth],
      useFactory: (transportAuth: TransportAuth) => ({
        autoSchemaFile: true,
        // Field resolvers get the guard too.
        fieldResolverEnhancers: ['guards'],
        subscriptions: { 'graphql-ws': transportAuth.graphqlWs() },
      }),
    }),
  ],
  controllers: [ArticlesRpc],
  providers: [ArticlesResolver, EventsGateway],
})
export class RealtimeModule {}
