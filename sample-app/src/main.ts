import { Logger } from '@nestjs/common';
import { assertPermissionsInCatalog, printRouteTable } from '@democrai/nest-auth';
import { createSampleApp } from './bootstrap.js';
import { permissions } from './permissions.js';

const app = await createSampleApp();
await app.init();
// Every permission a route requires is in the catalog, and the policy of every route is in the log.
assertPermissionsInCatalog(app, permissions.permissions);
printRouteTable(app);
const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
new Logger('SampleApp').log(`listening on http://localhost:${port} (open it in a browser to sign in; API docs at /docs)`);
