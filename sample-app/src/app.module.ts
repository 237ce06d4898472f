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
      jwt: { secret: sampleJwtSecret(dirname(database)) },
      users: UsersService,
      store: 'typeorm',
      apiKeys: { enabled: true },
    }),
  ],
  controllers: [AppController, AuthController, ArticlesController, AdminController, ApiKeysController],
})
export class AppModule {}
