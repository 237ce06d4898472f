// Load generator, run as its own process (pinned to the other CPU by run.mjs).
// argv[2]: JSON { url, token?, connections, duration, method?, body? }. Prints autocannon's summary as JSON.
import autocannon from 'autocannon';

const spec = JSON.parse(process.argv[2]);
const headers = { 'content-type': 'application/json' };
if (spec.token) headers.authorization = `Bearer ${spec.token}`;
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.duration,
  method: spec.method ?? 'GET',
  body: spec.body,
  headers,
});
const non2xx = result.non2xx + result.errors + result.timeouts;
process.stdout.write(
  JSON.stringify({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, non2xx }) + '\n',
);
