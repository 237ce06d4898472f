// `npm run build && node bench/login-flood.mjs`: /me latency at rest and during a flood of concurrent
// logins, side by side in one run, with wrk driving both loads; the resident memory of the server (VmRSS,
// read from /proc, before the flood and its peak); the flood's answers per second and their statuses;
// how long one normal login waits when it arrives 1 s into the flood (its first answer, and a client that
// honours Retry-After until it gets in).
// Servers (FLOOD_MODES, default `paced,unpaced`): the login throttle as shipped (`paced`: refused
// connections paced, loginThrottle.pacingMs 1000), and with `pacingMs: false` (`unpaced`). The per-IP
// limit is raised so that what is measured is the queue bound (a flood from many addresses), not the 429s.
// Topologies (FLOOD_TOPOLOGIES, default `one-core,two-core`):
//   one-core  the whole server (event loop and its hashing thread) on CPU 0, wrk on CPU 1
//   two-core  the event loop (with V8's GC helper threads) on CPU 0, the module's hashing threads on CPU 1
//             (taskset -p as they start), as on a 2-core host; wrk on CPU 1 too
// FLOOD_HASH_PRIORITY: the hasher's `priority` (`background`, the default; `normal` to compare).
// FLOOD_ROUNDS (3) rounds of rest then flood in one server process, after a warm-up of both; FLOOD_CONNECTIONS
// (300), FLOOD_SECONDS (10), IDLE_SECONDS (5), ME_CONNECTIONS (10), ME_DELAY_MS (10: each /me connection waits that
// long between requests, a steady rate; 0: a closed loop that saturates the event loop).
// The flood: wrk, bench/login-flood.lua (wrong passwords, a distinct username per request, from 127.0.0.1).
// /me: wrk with the one token, bench/me-rate.lua (or bench/rotate.lua for the closed loop).
// The normal login comes from 127.0.0.2: another client to the server (pacing backs off per client address).
// FLOOD_PROXY=nginx: every load goes through Debian's nginx (/usr/sbin/nginx, on CPU 1 with wrk) with an upstream
// keep-alive pool (FLOOD_PROXY_KEEPALIVE, 16), HTTP/1.1, X-Forwarded-For, and the app with `trust proxy` loopback,
// as production runs behind a proxy. FLOOD_XFF=1 with it: a flood from many client addresses (bench/login-flood.lua).
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SECRET = 'login-flood-bench-secret-of-at-least-32-bytes';
const PASSWORD = 'bench-password-123';

async function server(mode, port, topology) {
  await import('reflect-metadata');
  const { Body, Controller, Get, HttpCode, Module, Post } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const lib = await import(join(root, 'dist/index.js'));

  // FLOOD_HASH_PRIORITY: the hasher's `priority` ['background', the default; 'normal' for comparison].
  const hasher = new lib.Argon2PasswordHasher({ priority: process.env.FLOOD_HASH_PRIORITY ?? 'background' });
  const user = { id: 1, username: 'bench', passwordHash: await hasher.hash(PASSWORD), permissions: [] };
  if (topology === 'two-core') {
    // The hashing threads (the module's workers, found by the niceness its pool gives them, or all but this
    // thread's helpers at 'normal') onto CPU 1, as they start; the event loop stays on CPU 0.
    const { hashWorkerPool } = await import(join(root, 'dist/users/hash-workers.js'));
    const pinned = new Set();
    const pin = () => {
      for (const tid of [...hashWorkerPool(19).threadIds(), ...hashWorkerPool(null).threadIds()]) {
        if (pinned.has(tid)) continue;
        pinned.add(tid);
        try {
          execFileSync('taskset', ['-p', '-c', '1', String(tid)], { stdio: 'ignore' });
        } catch {
          // the thread has already exited
        }
      }
    };
    pin();
    setInterval(pin, 200).unref();
  }
  const users = { findByUsername: async (u) => (u === 'bench' ? user : null), findById: async (id) => (id === '1' ? user : null) };

  class Routes {
    constructor(auth) {
      this.auth = auth;
    }
    login(body) {
      return this.auth.login(body.username, body.password);
    }
    me(user) {
      return user;
    }
  }
  // Decorators by hand: this script is plain JavaScript.
  Reflect.decorate(
    [lib.Public(), Post('auth/login'), HttpCode(200)],
    Routes.prototype,
    'login',
    Object.getOwnPropertyDescriptor(Routes.prototype, 'login'),
  );
  Body()(Routes.prototype, 'login', 0);
  Reflect.decorate([Get('me')], Routes.prototype, 'me', Object.getOwnPropertyDescriptor(Routes.prototype, 'me'));
  lib.CurrentUser()(Routes.prototype, 'me', 0);
  Reflect.defineMetadata('design:paramtypes', [lib.AuthService], Routes);
  Controller()(Routes);

  // Limits raised: what is measured is the queue bound and the pacing, not the 429s of one address.
  const loginThrottle = {
    perIp: { limit: 1_000_000, windowSeconds: 60 },
    perAccount: { limit: 1_000_000, windowSeconds: 60 },
    ...(mode === 'unpaced' ? { pacingMs: false } : {}),
    // paced-N: pacingMs N, with the busy answer's Retry-After raised to match (pacing never exceeds it).
    ...(/^paced-\d+$/.test(mode)
      ? { pacingMs: Number(mode.slice(6)), passwordChecks: { retryAfterSeconds: Math.ceil(Number(mode.slice(6)) / 1000) } }
      : {}),
  };
  const imports = [
    lib.AuthModule.forRoot({ jwt: { secret: SECRET }, users, passwordHasher: hasher, audit: { emit: () => undefined }, loginThrottle }),
  ];
  class Root {}
  Module({ imports, controllers: [Routes] })(Root);
  const app = await NestFactory.create(Root, { logger: false });
  if (process.env.FLOOD_PROXY) app.set('trust proxy', 'loopback');
  await app.listen(port, '127.0.0.1');
  // Exit on SIGINT through process.exit, so that --cpu-prof writes its profile.
  process.on('SIGINT', () => process.exit(0));
  if (process.env.FLOOD_SERVER_LOG) {
    // The event loop's utilisation, once a second, into the server log (with the phases marked by the bench).
    const { performance, monitorEventLoopDelay } = await import('node:perf_hooks');
    let last = performance.eventLoopUtilization();
    const eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
    setInterval(() => {
      const now = performance.eventLoopUtilization();
      const d = (q) => (eld.percentile(q) / 1e6).toFixed(1);
      process.stdout.write(
        `elu ${performance.eventLoopUtilization(now, last).utilization.toFixed(2)} delay p50 ${d(50)} p99 ${d(99)} max ${(eld.max / 1e6).toFixed(1)} ms\n`,
      );
      eld.reset();
      last = now;
    }, 1000).unref();
  }
  process.stdout.write('ready\n');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hasTaskset() {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
}
const TASKSET = hasTaskset();
const NICE = (() => {
  try {
    execFileSync('nice', ['-n', '-10', 'true']);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();
const onCpu = (cpu, cmd, args) => (TASKSET ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

/**
 * wrk on CPU 1; resolves with its WRK_JSON line. `measuring`: the /me load, at a higher priority (nice -10)
 * when allowed, so that on CPU 1 (shared with the flood's wrk and, in two-core, the argon2 thread) the
 * latency it records is the server's, not the time the load generator itself waited for the CPU.
 */
function wrk(args, measuring = false) {
  const [cmd, a] = measuring && NICE ? onCpu(1, 'nice', ['-n', '-10', 'wrk', ...args]) : onCpu(1, 'wrk', args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, a, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) reject(new Error(`wrk exited ${code}: ${out}`));
      else resolve(JSON.parse(line.slice('WRK_JSON '.length)));
    });
  });
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function startServer(mode, port, topology) {
  // FLOOD_SERVER_ARGS: node flags for the server (e.g. --trace-gc, whose lines go to stderr).
  const flags = (process.env.FLOOD_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const [cmd, a] = onCpu(0, process.execPath, [...flags, fileURLToPath(import.meta.url), 'server', mode, String(port), topology]);
  const child = spawn(cmd, a, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    // FLOOD_SERVER_LOG=path keeps the server's stdout (--trace-gc writes there), with the phases marked.
    if (process.env.FLOOD_SERVER_LOG) child.stdout.on('data', (d) => appendFileSync(process.env.FLOOD_SERVER_LOG, d));
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { pid: child.pid, stop: () => (child.kill('SIGINT'), exited) };
}

/** One login from `localAddress` (a loopback address: another client to the server, or through the proxy). */
function login(base, username, password, localAddress = '127.0.0.2') {
  const t0 = performance.now();
  const payload = JSON.stringify({ username, password });
  const url = new URL(`${base}/auth/login`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'close' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            ms: performance.now() - t0,
            retryAfter: Number(res.headers['retry-after'] ?? 1),
            body: JSON.parse(text),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A port free now (bound on 0, read, released): nginx cannot be told to listen on 0. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** nginx before the app on CPU 1 (with wrk): an upstream keep-alive pool, HTTP/1.1, X-Forwarded-For. */
async function startNginx(appPort) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'login-flood-nginx-'));
  for (const sub of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream app { server 127.0.0.1:${appPort}; keepalive ${process.env.FLOOD_PROXY_KEEPALIVE ?? 16}; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  const [cmd, a] = onCpu(1, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  const child = spawn(cmd, a, { stdio: ['ignore', 'ignore', 'inherit'] });
  let gone = false;
  const exited = new Promise((resolve) => child.on('exit', () => ((gone = true), resolve())));
  for (let up = false; !up;) {
    if (gone) throw new Error('nginx exited at start (see its message above)');
    up = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => sleep(50).then(() => false),
    );
  }
  return { port, stop: () => (child.kill('SIGTERM'), exited.then(() => rmSync(dir, { recursive: true, force: true }))) };
}

/** A normal user: one login, then, while refused, again after Retry-After, until it gets in or `until`. */
async function politeLogin(base, until) {
  const t0 = performance.now();
  const first = await login(base, 'bench', PASSWORD);
  let last = first;
  let tries = 1;
  while (last.status !== 200 && performance.now() + last.retryAfter * 1000 < until) {
    await sleep(last.retryAfter * 1000);
    last = await login(base, 'bench', PASSWORD);
    tries++;
  }
  return { first: { status: first.status, ms: Math.round(first.ms) }, in: last.status === 200 ? Math.round(performance.now() - t0) : null, tries };
}

/** One wrk flood of wrong-password logins (the attackers), resolving with its WRK_JSON line. */
function flood(base, seconds) {
  return wrk([
    '-t2',
    `-c${process.env.FLOOD_CONNECTIONS ?? 300}`,
    `-d${seconds}s`,
    '--timeout',
    '30s',
    '-s',
    'bench/login-flood.lua',
    `${base}/auth/login`,
  ]);
}

async function measure(topology, mode, port) {
  const srv = await startServer(mode, port, topology);
  const proxy = process.env.FLOOD_PROXY ? await startNginx(port) : undefined;
  try {
    const base = `http://127.0.0.1:${proxy ? proxy.port : port}`;
    const { accessToken } = (await login(base, 'bench', PASSWORD)).body;
    const tokens = join(mkdtempSync(join(tmpdir(), 'login-flood-')), 'token');
    writeFileSync(tokens, `${accessToken}\n`);
    const idleSeconds = Number(process.env.IDLE_SECONDS ?? 5);
    const floodSeconds = Number(process.env.FLOOD_SECONDS ?? 10);
    const rounds = Number(process.env.FLOOD_ROUNDS ?? 3);
    // ME_DELAY_MS > 0 (default 10): each /me connection waits that long between requests (bench/me-rate.lua), a
    // steady rate below saturation; 0: a closed loop (bench/rotate.lua) that saturates the event loop, where any
    // added work raises the latency in proportion (Little's law), whatever its order.
    const delay = Number(process.env.ME_DELAY_MS ?? 10);
    const script =
      delay > 0 ? ['-s', 'bench/me-rate.lua', `${base}/me`, '--', tokens, String(delay)] : ['-s', 'bench/rotate.lua', `${base}/me`, '--', tokens];
    const meArgs = (seconds) => ['-t1', `-c${process.env.ME_CONNECTIONS ?? 10}`, `-d${seconds}s`, '--timeout', '30s', ...script];
    // Warm-up, not recorded: /me alone, then a short flood beside it, so that both paths are compiled by the JIT
    // before anything is measured (the first seconds of a process run 2x slower here).
    mark(`warm-up (${topology} ${mode})`);
    await wrk(meArgs(3), true);
    await Promise.all([flood(base, 3), wrk(meArgs(3), true)]);
    await sleep(2000);
    const rssBefore = rssOf(srv.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      try {
        rssPeak = Math.max(rssPeak, rssOf(srv.pid));
      } catch {}
    }, 100);
    const results = [];
    // Rounds of rest then flood in the one server process: each flood figure has its rest figure beside it.
    for (let round = 0; round < rounds; round++) {
      mark(`rest ${round + 1}`);
      const idle = await wrk(meArgs(idleSeconds), true);
      mark(`flood ${round + 1}`);
      const floodStart = performance.now();
      const attack = flood(base, floodSeconds);
      await sleep(1000);
      const [normal, during] = await Promise.all([
        politeLogin(base, floodStart + floodSeconds * 1000),
        wrk(meArgs(Math.max(1, floodSeconds - 2)), true),
      ]);
      mark(`in-flood /me done ${round + 1}`);
      const logins = await attack;
      results.push({ idle, during, logins, normal });
      // The flood's connections are closed; their paced timers end; the next rest starts from quiet.
      await sleep(2000);
    }
    clearInterval(sampler);
    return {
      topology,
      mode,
      hashPriority: process.env.FLOOD_HASH_PRIORITY ?? 'background',
      meDelayMs: delay,
      rounds: results,
      rssBeforeMb: Math.round(rssBefore / 1e6),
      rssPeakMb: Math.round(rssPeak / 1e6),
    };
  } finally {
    await proxy?.stop();
    await srv.stop();
  }
}

function mark(what) {
  if (process.env.FLOOD_SERVER_LOG) appendFileSync(process.env.FLOOD_SERVER_LOG, `---- ${what}\n`);
}

const ms = (us) => (us / 1000).toFixed(us < 10_000 ? 1 : 0);

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

async function main() {
  let port = 43000 + Math.floor(Math.random() * 1000);
  const results = [];
  for (const topology of (process.env.FLOOD_TOPOLOGIES ?? 'one-core,two-core').split(','))
    for (const mode of (process.env.FLOOD_MODES ?? 'paced,unpaced').split(',')) results.push(await measure(topology, mode, port++));
  const lines = [
    `${process.env.FLOOD_PROXY ? 'behind nginx (upstream keepalive ' + (process.env.FLOOD_PROXY_KEEPALIVE ?? 16) + ')' : 'direct'}`,
    '',
    '| topology | server | hashing | /me load | /me p50 / p99 at rest (ms) | /me p50 / p99 in flood (ms) | p99 ratio (median) | p99 ratio per round | /me req/s rest / flood | flood answers/s | flood statuses (all rounds) | normal login 1 s in, per round | RSS before / peak (MB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const rps = (w) => w.requests / (w.duration_us / 1e6);
    const statuses = {};
    for (const x of r.rounds) for (const [k, v] of Object.entries(x.logins.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    const ratios = r.rounds.map((x) => x.during.p99_us / x.idle.p99_us);
    const med = (f) => median(r.rounds.map(f));
    const normal = r.rounds
      .map(
        (x) =>
          `${x.normal.first.status} in ${x.normal.first.ms} ms, ${x.normal.in === null ? `not in (${x.normal.tries} tries)` : `in after ${x.normal.in} ms`}`,
      )
      .join('; ');
    lines.push(
      `| ${r.topology} | ${r.mode} | ${r.hashPriority} | ${r.meDelayMs > 0 ? `${r.meDelayMs} ms apart` : 'closed loop'} | ${ms(med((x) => x.idle.p50_us))} / ${ms(med((x) => x.idle.p99_us))} | ${ms(med((x) => x.during.p50_us))} / ${ms(med((x) => x.during.p99_us))} | ${median(ratios).toFixed(2)}× | ${ratios.map((x) => x.toFixed(2)).join(', ')} | ${Math.round(med((x) => rps(x.idle)))} / ${Math.round(med((x) => rps(x.during)))} | ${Math.round(med((x) => rps(x.logins)))} | ${Object.entries(
        statuses,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')} | ${normal} | ${r.rssBeforeMb} / ${r.rssPeakMb} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (process.env.FLOOD_JSON) writeFileSync(process.env.FLOOD_JSON, JSON.stringify(results, null, 2));
}

if (process.argv[2] === 'server') await server(process.argv[3], Number(process.argv[4]), process.argv[5]);
else await main();
