import { Logger } from '@nestjs/common';
import { serveSample } from './bootstrap.js';

const port = Number(process.env.PORT ?? 3000);
await serveSample({ port });
new Logger('SampleApp').log(
  `listening on http://localhost:${port} (open it in a browser to sign in; API docs at /docs, GraphQL at /graphql, socket.io at /events)` +
    (process.env.NATS_URL ? `; NATS handlers on ${process.env.NATS_URL}` : ''),
);
