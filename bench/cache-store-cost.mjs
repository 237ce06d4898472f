/**
 * What `store: 'cache'` adds per request: the same app and route, the same token, under autocannon, with
 *   memory    the default memory store, `cached` (no I/O per request: the floor)
 *   cache-mem `store: 'cache'` on the in-memory CacheModule (strict: three Keyv reads in process)
 *   cache-rds `store: 'cache'` on Redis through @keyv/redis (strict: three GETs to Redis, in parallel)
 * Run it after `npx tsc -p tsconfig.build.json`, with AUTH_TEST_REDIS_URL set (under the CPU lock of a shared machine):
 *   node bench/cache-store-cost.mjs [seconds=5] [connections=50]
 * A targeted measurement (one process, load and server together), not the paired bench of run.mjs.
 */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule } from '@nestjs/cache-manager';
import { createKeyv } from '@keyv/redis';
import autocannon from 'autocannon';
import { AuthModule, AuthService } from '../dist/index.js';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 50);
const redisUrl = process.env.AUTH_TEST_REDIS_URL;

class Ctl {
  me() {
    return { ok: true };
  }
}
Get('me')(Ctl.prototype, 'me', Object.getOwnPropertyDescriptor(Ctl.prototype, 'me'));
Controller()(Ctl);

async function measure(name, authOptions, imports) {
  class App {}
  Module({ imports: [...imports, AuthModule.forRoot({ jwt: { secret: 'x'.repeat(40) }, ...authOptions })], controllers: [Ctl] })(App);
  const app = await NestFactory.create(App, { logger: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  // A token with a session id, so the strict check reads the jti, the session and the user's cut-off.
  const token = await app.get(AuthService).createToken({ sub: '1', sid: 'bench-session' });
  const run = (duration) => autocannon({ url: `http://127.0.0.1:${port}/me`, connections, duration, headers: { authorization: `Bearer ${token}` } });
  await run(1);
  const cpu = process.cpuUsage();
  const result = await run(seconds);
  const used = process.cpuUsage(cpu);
  await app.close();
  const requests = result.requests.total;
  const line = {
    name,
    'req/s': Math.round(result.requests.average),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    'CPU µs/req (server+load)': Math.round((used.user + used.system) / requests),
    non2xx: result.non2xx,
  };
  console.log(JSON.stringify(line));
  return line;
}

const rows = [];
rows.push(await measure('memory (cached)', {}, []));
rows.push(await measure('cache, in memory (strict)', { store: 'cache' }, [CacheModule.register()]));
if (redisUrl) {
  rows.push(
    await measure('cache, Redis (strict)', { store: { type: 'cache', keyPrefix: `bench-${process.pid}:` } }, [
      CacheModule.register({ stores: [createKeyv(redisUrl)] }),
    ]),
  );
} else console.log('[skipped] the Redis row: set AUTH_TEST_REDIS_URL');
console.table(rows);
process.exit(0);
