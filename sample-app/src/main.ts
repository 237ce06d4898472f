import { Logger } from '@nestjs/common';
import { createSampleApp } from './bootstrap.js';

const app = await createSampleApp();
const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
new Logger('SampleApp').log(`listening on http://localhost:${port} (open it in a browser to sign in)`);
