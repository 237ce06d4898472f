import { Module, type DynamicModule } from '@nestjs/common';
import { TRANSPORT_OPTIONS, type AuthTransportsOptions } from '../call/carrier.js';
import { TransportAuth } from './transport-auth.js';

/**
 * GraphQL, WebSocket and microservice support, imported next to
 * `AuthModule.forRoot()` by apps that use those transports (an HTTP-only app
 * never loads it, nor any of their packages).
 */
@Module({})
export class AuthTransportsModule {
  static forRoot(options: AuthTransportsOptions = {}): DynamicModule {
    return {
      module: AuthTransportsModule,
      global: true,
      providers: [{ provide: TRANSPORT_OPTIONS, useValue: options }, TransportAuth],
      exports: [TransportAuth, TRANSPORT_OPTIONS],
    };
  }
}
