import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule, authEntities } from '@democrai/nest-auth';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AdminController } from './admin/admin.controller.js';
import { ApiKeysController } from './admin/api-keys.controller.js';
import { AppController } from './app.controller.js';
import { ArticlesController } from './articles/articles.controller.js';
import { AuthController } from './auth/auth.controller.js';
import { PageController } from './page.controller.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { sampleJwtSecret } from './secret.js';
import { User } from './users/user.entity.js';
import { UsersModule } from './users/users.module.js';
import { UsersService } from './users/users.service.js';

const database = process.env.SAMPLE_DB ?? 'sample-app/data/sample.sqlite';
mkdirSync(dirname(database), { recursive: true });

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database,
      entities: [User, ...authEntities],
      // A demo: the schema is created from the entities. A real app runs migrations (authMigrations.sqlite for the module's tables).
      synchronize: true,
    }),
    UsersModule,
    AuthModule.forRoot({
      // ACCESS_TOKEN_TTL: seconds; the browser tests shorten it to watch the page refresh silently.
      jwt: { secret: sampleJwtSecret(dirname(database)), accessTokenTtl: Number(process.env.ACCESS_TOKEN_TTL ?? 900) },
      users: UsersService,
      store: 'typeorm',
      apiKeys: { enabled: true },
      // The page at / signs in through httpOnly cookies; API clients (curl, no Origin header) still get tokens in the body.
      cookies: { enabled: true, refreshToken: { path: '/auth/refresh' } },
    }),
    // GraphQL at /graphql, socket.io at /events, the NATS handlers (connected by connectNats when NATS_URL is set).
    RealtimeModule,
  ],
  controllers: [PageController, AppController, AuthController, ArticlesController, AdminController, ApiKeysController],
})
export class AppModule {}
