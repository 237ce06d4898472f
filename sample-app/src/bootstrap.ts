import 'reflect-metadata';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { assertPermissionsInCatalog, printRouteTable } from '@democrai/nest-auth';
import { AppModule } from './app.module.js';
import { setupDocs } from './docs.js';
import { permissions } from './permissions.js';
import { connectNats } from './realtime/nats.js';

/** The sample app as `npm start` builds it, not yet listening; the browser tests boot the same thing. */
export async function createSampleApp(options: { logger?: false } = {}): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule, options.logger === false ? { logger: false } : {});
  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
  app.enableShutdownHooks();
  setupDocs(app);
  // Before init: the NATS handlers then share the app's global guard (inheritAppConfig).
  await connectNats(app);
  return app;
}

/**
 * What `npm start` runs (main.ts) and what the route smoke test boots in-process:
 * the app initialised, its policy checked and logged, the NATS handlers started
 * when NATS_URL is set, listening on `port` (0: any free port).
 */
export async function serveSample(options: { port: number; host?: string; logger?: false }): Promise<INestApplication> {
  const app = await createSampleApp({ logger: options.logger });
  await app.init();
  // Every permission a route requires is in the catalog, and the policy of every route is in the log.
  assertPermissionsInCatalog(app, permissions.permissions);
  if (options.logger !== false) printRouteTable(app);
  await app.startAllMicroservices();
  await (options.host === undefined ? app.listen(options.port) : app.listen(options.port, options.host));
  return app;
}
