// `npm run build && node bench/login-flood.mjs`: /me latency at rest and during a flood of
// concurrent logins, the resident memory of the server, and how long one normal login waits
// when it arrives 300 ms into the flood. Two servers, side by side in one run:
//   baseline   AuthModule as on main (unbounded password-check queue, no throttle)
//   protected  the login throttle wired in (bounded queue: 503 auth_busy beyond it)
// Server on CPU 0, load on CPU 1 when taskset exists. FLOOD_CONNECTIONS (300), FLOOD_SECONDS (10),
// IDLE_SECONDS (5). The flood sends wrong passwords for distinct usernames from 127.0.0.1, with
// the per-IP limit raised so that what is measured is the queue bound, not the throttle.
import { execFileSync, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SECRET = 'login-flood-bench-secret-of-at-least-32-bytes';
const PASSWORD = 'bench-password-123';

if (process.argv[2] === 'server') await server(process.argv[3], Number(process.argv[4]));
else if (process.argv[2] === 'load') await loadChild(JSON.parse(process.argv[3]));
else await main();

async function server(mode, port) {
  await import('reflect-metadata');
  const { Body, Controller, Get, HttpCode, Module, Post } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const lib = await import(join(root, 'dist/index.js'));

  const hasher = new lib.Argon2PasswordHasher();
  const user = { id: 1, username: 'bench', passwordHash: await hasher.hash(PASSWORD), permissions: [] };
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
    rss() {
      return { rss: process.memoryUsage().rss };
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
  Reflect.decorate([lib.Public(), Get('rss')], Routes.prototype, 'rss', Object.getOwnPropertyDescriptor(Routes.prototype, 'rss'));
  Reflect.defineMetadata('design:paramtypes', [lib.AuthService], Routes);
  Controller()(Routes);

  // 'baseline': the throttle's counting off (the queue is bounded either way); 'protected': counting on, limits
  // raised so what is measured is the queue bound, not the 429s.
  const loginThrottle =
    mode === 'protected'
      ? { perIp: { limit: 1_000_000, windowSeconds: 60 }, perAccount: { limit: 1_000_000, windowSeconds: 60 } }
      : { enabled: false };
  const imports = [lib.AuthModule.forRoot({ jwt: { secret: SECRET }, users, audit: { emit: () => undefined }, loginThrottle })];
  const providers = [];
  class Root {}
  // Routes resolves AuthService in its own module first: the throttled one when there is one.
  Module({ imports, controllers: [Routes], providers })(Root);
  const app = await NestFactory.create(Root, { logger: false });
  await app.listen(port, '127.0.0.1');
  process.stdout.write('ready\n');
}

async function loadChild(spec) {
  const { default: autocannon } = await import('autocannon');
  const { floodBodies, ...rest } = spec;
  // Functions do not survive the JSON hop to this process: the flood's bodies are made here.
  if (floodBodies)
    rest.requests = [{ setupRequest: (req) => ({ ...req, body: JSON.stringify({ username: `flood-${Math.random()}`, password: 'wrong' }) }) }];
  const result = await autocannon({ ...rest, timeout: 60 });
  process.stdout.write(
    JSON.stringify({
      p50: result.latency.p50,
      p99: result.latency.p99,
      count: result.requests.total,
      non2xx: result.non2xx,
      rps: result.requests.average,
      statuses: result.statusCodeStats ?? {},
      errors: result.errors,
      timeouts: result.timeouts,
    }),
  );
}

function pinned(cpu, args) {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    if (cpus().length > 1) return ['taskset', ['-c', String(cpu), process.execPath, ...args]];
  } catch {}
  return [process.execPath, args];
}

function run(cpu, args, onReady) {
  const [cmd, a] = pinned(cpu, args);
  const child = spawn(cmd, a, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (onReady && out.includes('ready')) onReady();
  });
  const done = new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 || onReady ? resolve(out) : reject(new Error(`exited ${code}`)))),
  );
  return { child, done };
}

function load(spec) {
  return run(1, [fileURLToPath(import.meta.url), 'load', JSON.stringify(spec)]).done.then((o) => JSON.parse(o));
}

async function measure(mode, port) {
  let ready;
  const started = new Promise((r) => (ready = r));
  const srv = run(0, [fileURLToPath(import.meta.url), 'server', mode, String(port)], ready);
  await started;
  try {
    return await measureOn(mode, port);
  } finally {
    srv.child.kill('SIGINT');
    await srv.done;
  }
}

async function measureOn(mode, port) {
  const base = `http://127.0.0.1:${port}`;
  const login = await (
    await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', password: PASSWORD }),
    })
  ).json();
  const me = { url: `${base}/me`, connections: 10, headers: { authorization: `Bearer ${login.accessToken}` } };
  const idleSeconds = Number(process.env.IDLE_SECONDS ?? 5);
  const floodSeconds = Number(process.env.FLOOD_SECONDS ?? 10);
  const rest = await load({ ...me, duration: idleSeconds });
  const rss = [];
  const sampler = setInterval(async () => {
    try {
      rss.push((await (await fetch(`${base}/rss`)).json()).rss);
    } catch {}
  }, 250);
  const rssBefore = (await (await fetch(`${base}/rss`)).json()).rss;
  const flood = load({
    url: `${base}/auth/login`,
    method: 'POST',
    connections: Number(process.env.FLOOD_CONNECTIONS ?? 300),
    duration: floodSeconds,
    headers: { 'content-type': 'application/json' },
    // Distinct unknown usernames: the per-account counters never stop the flood.
    floodBodies: true,
  });
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  const normal = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: PASSWORD }),
  });
  const normalMs = performance.now() - t0;
  const during = await load({ ...me, duration: Math.max(1, floodSeconds - 2) });
  const logins = await flood;
  clearInterval(sampler);
  return {
    mode,
    rest,
    during,
    logins,
    normal: { status: normal.status, ms: Math.round(normalMs) },
    rssBeforeMb: Math.round(rssBefore / 1e6),
    rssPeakMb: Math.round(Math.max(rssBefore, ...rss) / 1e6),
  };
}

async function main() {
  let port = 43000 + Math.floor(Math.random() * 1000);
  const results = [];
  for (const mode of (process.env.FLOOD_MODES ?? 'baseline,protected').split(',')) results.push(await measure(mode, port++));
  const lines = [
    '| server | /me p99 at rest (ms) | /me p99 in flood (ms) | ratio | flood logins/s | flood statuses | normal login (status, ms) | RSS before / peak (MB) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.mode} | ${r.rest.p99} (${r.rest.count} req) | ${r.during.p99} (${r.during.count} req, ${r.during.non2xx} non-2xx, ${r.during.errors} errors) | ${(r.during.p99 / Math.max(1, r.rest.p99)).toFixed(2)}× | ${Math.round(r.logins.rps)} | ${JSON.stringify(Object.fromEntries(Object.entries(r.logins.statuses).map(([k, v]) => [k, v.count])))} | ${r.normal.status}, ${r.normal.ms} | ${r.rssBeforeMb} / ${r.rssPeakMb} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}
