import 'reflect-metadata';
import { ValidationPipe, type INestApplication, type LoggerService } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AuthModule, type AuthModuleForRootOptions } from '../../src/index.js';
import type { Adapter } from './app.js';
import { ALL_CONTROLLERS } from './controllers.js';
import { withUsersHasher } from './users.js';

/**
 * A real app that trusts a proxy on the loopback, as the README says to run one behind nginx: Express's
 * `trust proxy`, Fastify's `trustProxy` (given to its adapter at construction). Listening on 127.0.0.1:0.
 * With `MemoryUsers` and no `passwordHasher`, the app verifies with the hasher the users were made with.
 */
export async function bootTrustingProxy(
  adapter: Adapter,
  options: AuthModuleForRootOptions,
  extra: { logger?: LoggerService; trust?: string } = {},
): Promise<INestApplication> {
  const trust = extra.trust ?? 'loopback';
  const moduleRef = await Test.createTestingModule({
    imports: [AuthModule.forRoot(withUsersHasher(options))],
    controllers: ALL_CONTROLLERS,
  }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter({ trustProxy: trust }))
      : moduleRef.createNestApplication<NestExpressApplication>();
  if (adapter === 'express') (app as NestExpressApplication).set('trust proxy', trust);
  app.useLogger(extra.logger ?? false);
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }));
  await app.init();
  if (adapter === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  await app.listen(0, '127.0.0.1');
  return app;
}
