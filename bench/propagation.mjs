// Propagation of a revocation across 4 instances (4 gates, 4 DataSources, one database / one Redis):
// revoke on one instance, time until each of the 3 others refuses the token, over N revocations.
// Modes: polling only (syncIntervalMs 1000), PostgreSQL LISTEN/NOTIFY, Redis pub/sub, and each channel with the
// writer's channel cut ("postgres-cut", "redis-cut": instance 0 reaches the channel's server through a TCP proxy that
// is black-holed once the fleet is up; every revocation is written by instance 0, the three others have live channels).
// Also: feed queries per instance per minute while idle (the channel heartbeats are counted apart).
// Usage: npm run build && BENCH_POSTGRES_URL=postgres://.../<a database of its own: every table in it is dropped> node bench/propagation.mjs [revocations=200] [idleSeconds=20]
//        BENCH_MODES=polling,postgres,redis,postgres-cut,redis-cut (default: all); BENCH_CUT_N revocations in a cut mode [40]
import 'reflect-metadata';
import net from 'node:net';
import { DataSource } from 'typeorm';
import { authEntities, authMigrations } from '../dist/index.js';
import { RevocationGate } from '../dist/revocation/revocation-gate.js';
import { RevocationSync } from '../dist/revocation/revocation-sync.js';
import { RevocationWriter } from '../dist/revocation/revocation-writer.js';
import {
  TypeOrmRevocationFeed,
  TypeOrmRevocationLedger,
  TypeOrmRevocationStore,
  TypeOrmUserCutoffStore,
} from '../dist/revocation/typeorm-revocation.store.js';
import { TypeOrmSessionStore } from '../dist/sessions/typeorm-session.store.js';
import { PostgresRevocationChannel } from '../dist/revocation/postgres-revocation.channel.js';
import { RedisRevocationChannel } from '../dist/revocation/redis-revocation.channel.js';

const pgUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/wt_revocation';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const N = Number(process.argv[2] ?? 200);
const IDLE_S = Number(process.argv[3] ?? 20);
const INSTANCES = 4;

const setup = await new DataSource({ type: 'postgres', url: pgUrl, entities: authEntities, migrations: authMigrations.postgres }).initialize();
// The bench's own database: every table of a previous run goes (the module's tables grow with its migrations).
for (const { tablename } of await setup.query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`))
  await setup.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
await setup.runMigrations();
await setup.destroy();

const CUT_N = Number(process.env.BENCH_CUT_N ?? 40);

/** A TCP proxy to `port` on 127.0.0.1 that can be black-holed: bytes are dropped both ways, connections stay open. */
async function proxyTo(port) {
  const state = { holed: false, server: undefined, port: 0, sockets: new Set() };
  state.server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    state.sockets.add(client).add(upstream);
    client.on('data', (c) => state.holed || upstream.write(c));
    upstream.on('data', (c) => state.holed || client.write(c));
    const close = () => (client.destroy(), upstream.destroy());
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise((r) => state.server.listen(0, '127.0.0.1', r));
  state.port = state.server.address().port;
  state.stop = () => {
    for (const s of state.sockets) s.destroy();
    state.server.close();
  };
  return state;
}

const viaPort = (url, port) => {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
};

const channelOf = {
  polling: () => undefined,
  postgres: (url = pgUrl) => new PostgresRevocationChannel({ connection: url, channel: 'revocation_bench' }),
  redis: (url = redisUrl) => new RedisRevocationChannel({ url, channel: 'revocation:bench' }),
};

async function instances(mode) {
  const out = [];
  const cut = mode.endsWith('-cut');
  const kind = cut ? mode.slice(0, -4) : mode;
  const proxy = cut ? await proxyTo(Number(new URL(kind === 'postgres' ? pgUrl : redisUrl).port || (kind === 'postgres' ? 5432 : 6379))) : undefined;
  for (let i = 0; i < INSTANCES; i++) {
    const ds = await new DataSource({ type: 'postgres', url: pgUrl, entities: authEntities, extra: { max: 4 } }).initialize();
    const counter = { polls: 0 };
    const inner = new TypeOrmRevocationFeed(ds);
    const feed = { changesAfter: (a, l) => (counter.polls++, inner.changesAfter(a, l)) };
    const revocations = new TypeOrmRevocationStore(ds);
    const sessions = new TypeOrmSessionStore(ds);
    const cutoffs = new TypeOrmUserCutoffStore(ds);
    const stores = { revocations, sessions, cutoffs, feed, ledger: new TypeOrmRevocationLedger(ds, revocations, sessions, cutoffs) };
    const options = {
      consistency: 'cached',
      syncIntervalMs: 1000,
      accessTokenTtl: 900,
      maxTokenLifetime: 86_400,
      storeTimeoutMs: 2000,
      channel: i === 0 && proxy ? channelOf[kind](viaPort(kind === 'postgres' ? pgUrl : redisUrl, proxy.port)) : channelOf[kind](),
    };
    // One instance's revocation as the module wires it: the verdict, the sync, the one writer.
    const verdict = new RevocationGate(stores, options);
    const sync = new RevocationSync(stores, verdict, options);
    const writer = new RevocationWriter(stores, verdict, sync, options);
    const gate = {
      check: (c) => verdict.check(c),
      revokeJti: (jti, exp) => writer.revokeToken(jti, exp),
      start: () => sync.start(),
      stop: () => sync.stop(),
      get channelAlive() {
        return sync.channelAlive;
      },
    };
    await gate.start();
    out.push({ ds, gate, counter });
  }
  const until = Date.now() + 10_000;
  while (mode !== 'polling' && !out.every((x) => x.gate.channelAlive) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  if (proxy) {
    proxy.holed = true;
    out.proxy = proxy;
  }
  return out;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(mode) {
  const fleet = await instances(mode);
  const samples = [];
  const cut = mode.endsWith('-cut');
  const n = cut ? CUT_N : N;
  for (let i = 0; i < n; i++) {
    // Cut modes: the writer is always the instance whose channel is cut.
    const writer = cut ? fleet[0] : fleet[i % INSTANCES];
    const others = fleet.filter((x) => x !== writer);
    const jti = `${mode}-${i}-${Math.random().toString(36).slice(2)}`;
    await writer.gate.revokeJti(jti, new Date(Date.now() + 3_600_000));
    const t0 = performance.now();
    const pending = new Set(others);
    await new Promise((resolve) => {
      const tick = () => {
        for (const o of pending) {
          if (o.gate.check({ jti, sub: 'u', iat: 1 }) === 'token_revoked') {
            samples.push(performance.now() - t0);
            pending.delete(o);
          }
        }
        if (pending.size === 0) resolve();
        else setImmediate(tick);
      };
      tick();
    });
    // Spread the revocations over the poll phase, as real ones are.
    await new Promise((r) => setTimeout(r, mode === 'polling' || cut ? Math.random() * 1000 : 5 + Math.random() * 20));
  }
  // Idle: feed queries per instance per minute.
  for (const x of fleet) x.counter.polls = 0;
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const idlePerMin = fleet.reduce((s, x) => s + x.counter.polls, 0) / INSTANCES / (IDLE_S / 60);
  for (const x of fleet) {
    await x.gate.stop();
    await x.ds.destroy();
  }
  fleet.proxy?.stop();
  samples.sort((a, b) => a - b);
  const heartbeatsPerMin = mode === 'polling' ? 0 : 60;
  return {
    mode,
    n: samples.length,
    p50: pct(samples, 50),
    p99: pct(samples, 99),
    max: samples[samples.length - 1],
    idleFeedQueriesPerMin: idlePerMin,
    heartbeatsPerMin,
  };
}

const rows = [];
for (const mode of (process.env.BENCH_MODES ?? 'polling,postgres,redis').split(',')) rows.push(await measure(mode));
const f = (x) => x.toFixed(1);
process.stdout.write(
  `\n4 instances, ${N} revocations each mode (${N * 3} samples; cut modes ${CUT_N}, all from the cut instance), idle ${IDLE_S} s\n`,
);
process.stdout.write(
  '| mode | p50 ms | p99 ms | max ms | idle feed queries / instance / min | channel heartbeats / instance / min |\n|---|---|---|---|---|---|\n',
);
for (const r of rows)
  process.stdout.write(`| ${r.mode} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.idleFeedQueriesPerMin)} | ${r.heartbeatsPerMin} |\n`);
process.exit(0);
