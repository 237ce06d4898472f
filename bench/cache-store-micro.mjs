/**
 * The per-request read of `store: 'cache'` (the strict check: jti, session end, cut-off, three reads in
 * parallel) on an in-memory Keyv and on Redis through @keyv/redis: latency, CPU per check, and checks/s with 50 in
 * flight. After `npx tsc -p tsconfig.build.json`: AUTH_TEST_REDIS_URL=redis://127.0.0.1:6379 node bench/cache-store-micro.mjs
 */
import { createKeyv } from '@keyv/redis';
import { Keyv } from 'keyv';
const { CacheRevocationStore, CacheUserCutoffStore } = await import('../dist/revocation/cache-revocation.store.js');
const { CacheEntries } = await import('../dist/persistence/cache-entries.js');
const { CacheEndedSessionStore } = await import('../dist/sessions/cache-ended-session.store.js');
const { InMemorySessionStore } = await import('../dist/sessions/in-memory-session.store.js');
async function run(name, keyv, n) {
  const entries = new CacheEntries({ stores: [keyv] }, `micro-${process.pid}:`);
  const rev = new CacheRevocationStore(entries),
    cut = new CacheUserCutoffStore(entries, 3600e3),
    ses = new CacheEndedSessionStore(new InMemorySessionStore(), entries, 3600e3);
  const check = () => Promise.all([rev.isRevoked('j'), ses.find('s'), cut.get('u')]);
  for (let i = 0; i < 500; i++) await check();
  const times = [];
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await check();
    times.push(performance.now() - t);
  }
  const wall = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  // 50 in flight, as 50 concurrent requests would
  const t1 = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (done < n) {
        done++;
        await check();
      }
    }),
  );
  const conc = performance.now() - t1;
  console.log(
    JSON.stringify({
      name,
      n,
      p50_us: Math.round(times[n >> 1] * 1000),
      p99_us: Math.round(times[Math.floor(n * 0.99)] * 1000),
      cpu_us_per_check: Math.round((used.user + used.system) / n),
      checks_per_s_50_in_flight: Math.round((n / conc) * 1000),
      seq_wall_ms: Math.round(wall),
    }),
  );
}
await run('keyv in memory', new Keyv(), 5000);
const r = createKeyv(process.env.AUTH_TEST_REDIS_URL);
await run('keyv redis (@keyv/redis)', r, 5000);
await r.disconnect();
process.exit(0);
