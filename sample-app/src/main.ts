import 'reflect-metadata';
import { Logger, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { assertPermissionsInCatalog, printRouteTable } from '@democrai/nest-auth';
import { AppModule } from './app.module.js';
import { setupDocs } from './docs.js';
import { permissions } from './permissions.js';

const app = await NestFactory.create(AppModule);
app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));
app.enableShutdownHooks();
setupDocs(app);
await app.init();
// Every permission a route requires is in the catalog, and the policy of every route is in the log.
assertPermissionsInCatalog(app, permissions.permissions);
printRouteTable(app);
const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
new Logger('SampleApp').log(`listening on http://localhost:${port} (API docs at /docs)`);
