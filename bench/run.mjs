// `npm run bench`: bare Nest vs AuthModule vs the Nest docs recipe, on Express and Fastify,
// each server its own process on CPU 0, the load on CPU 1, interleaved rounds; then the
// verifier micro-benchmark and /me under a login flood. Writes bench/results.md.
//   BENCH_DURATION (s per run, default 10), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (50),
//   BENCH_ADAPTERS (express,fastify), BENCH_PROFILE=1 (cpu-profile the AuthModule server).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifierTable } from './verifier.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'express,fastify').split(',');
const VARIANTS = ['bare', 'auth', 'recipe'];
const PROFILE = process.env.BENCH_PROFILE === '1';
const TARGETS = { express: { bare: 0.92, recipe: 3 }, fastify: { bare: 0.6, recipe: 3 } };

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return cpus().length > 1;
  } catch {
    return false;
  }
})();
const pinned = (cpu, cmd, args) => (hasTaskset ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

let nextPort = 41000 + Math.floor(Math.random() * 1000);

async function startServer(variant, adapter) {
  const port = nextPort++;
  const nodeArgs = PROFILE && variant === 'auth' ? ['--cpu-prof', `--cpu-prof-dir=${join(here, 'profiles')}`] : [];
  const [cmd, args] = pinned(0, process.execPath, [...nodeArgs, join(root, 'dist-bench/server.js'), variant, adapter, String(port)]);
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`${variant}/${adapter} server exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const token = (await (await fetch(`${base}/token`)).json()).token;
  return { child, base, token };
}

async function stopServer(server) {
  server.child.kill('SIGINT');
  await new Promise((resolve) => server.child.once('exit', resolve));
}

function load(spec) {
  const [cmd, args] = pinned(1, process.execPath, [join(here, 'load.mjs'), JSON.stringify(spec)]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited with ${code}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function throughput(adapter) {
  const samples = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    // Round 0 is the warm-up; the order rotates so no variant always runs first.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    for (const variant of order) {
      const server = await startServer(variant, adapter);
      const url = `${server.base}/articles`;
      const token = variant === 'bare' ? undefined : server.token;
      await load({ url, token, connections: CONNECTIONS, duration: Math.min(3, DURATION) });
      const result = await load({ url, token, connections: CONNECTIONS, duration: DURATION });
      if (result.non2xx > 0) throw new Error(`${variant}/${adapter}: ${result.non2xx} failed requests`);
      if (round > 0) samples[variant].push(result);
      await stopServer(server);
      process.stderr.write(`  ${adapter} ${variant} round ${round}: ${Math.round(result.rps)} req/s\n`);
    }
  }
  return Object.fromEntries(
    VARIANTS.map((v) => [
      v,
      { rps: median(samples[v].map((s) => s.rps)), p50: median(samples[v].map((s) => s.p50)), p99: median(samples[v].map((s) => s.p99)) },
    ]),
  );
}

async function loginFlood() {
  const server = await startServer('auth', 'express');
  const me = { url: `${server.base}/me`, token: server.token, connections: 10, duration: DURATION };
  await load({ ...me, duration: 2 });
  const rest = await load(me);
  const body = JSON.stringify({ username: 'bench', password: 'bench-password-123' });
  const [during, logins] = await Promise.all([
    load(me),
    load({ url: `${server.base}/auth/login`, method: 'POST', body, connections: 8, duration: DURATION }),
  ]);
  await stopServer(server);
  return { rest, during, logins };
}

function topOfProfile() {
  const dir = join(here, 'profiles');
  if (!existsSync(dir)) return '';
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort();
  if (files.length === 0) return '';
  const profile = JSON.parse(readFileSync(join(dir, files.at(-1)), 'utf8'));
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/node_modules/').pop().split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15)
    .map(([k, v]) => `| ${((100 * v) / total).toFixed(1)}% | \`${k}\` |`)
    .join('\n');
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
if (PROFILE) mkdirSync(join(here, 'profiles'), { recursive: true });

const lines = [];
const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown CPU';
lines.push('# Benchmark results', '');
lines.push(`- date: ${new Date().toISOString()}`, `- machine: ${cpu}, ${cpus().length} CPUs; Node ${process.version}`);
lines.push(`- server pinned to CPU 0, load (autocannon, ${CONNECTIONS} connections) on CPU 1${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}`);
lines.push(`- ${ROUNDS} interleaved rounds of ${DURATION} s per variant after a warm-up round; medians`);
lines.push('- command: `npm run bench`', '');
lines.push('| adapter | variant | req/s | p50 ms | p99 ms | × bare | target |', '|---|---|---:|---:|---:|---:|---|');
const summary = [];
for (const adapter of ADAPTERS) {
  process.stderr.write(`throughput on ${adapter}\n`);
  const r = await throughput(adapter);
  for (const v of VARIANTS) {
    const ratio = r[v].rps / r.bare.rps;
    let target = '';
    if (v === 'auth') {
      const vsRecipe = r.auth.rps / r.recipe.rps;
      const t = TARGETS[adapter];
      target = `≥ ${t.bare}× bare: ${ratio >= t.bare ? 'met' : 'NOT met'}; ${fmt(vsRecipe, 1)}× recipe (≥ ${t.recipe}×): ${vsRecipe >= t.recipe ? 'met' : 'NOT met'}`;
      summary.push(`${adapter}: AuthModule ${fmt(ratio, 2)}× bare, ${fmt(vsRecipe, 1)}× recipe`);
    }
    const name = {
      bare: 'bare Nest',
      auth: 'AuthModule (HS256, permission, TypeORM/SQLite cached revocation)',
      recipe: 'docs recipe (passport-jwt, string secret, permissions guard)',
    }[v];
    lines.push(`| ${adapter} | ${name} | ${fmt(r[v].rps)} | ${r[v].p50} | ${r[v].p99} | ${fmt(ratio, 2)} | ${target} |`);
  }
}

process.stderr.write('login flood\n');
const flood = await loginFlood();
const ratio = flood.during.p99 / flood.rest.p99;
lines.push('', '## /me during a login flood (Express, AuthModule)', '');
lines.push('| | /me req/s | /me p50 ms | /me p99 ms |', '|---|---:|---:|---:|');
lines.push(`| at rest | ${fmt(flood.rest.rps)} | ${flood.rest.p50} | ${flood.rest.p99} |`);
lines.push(`| during ${fmt(flood.logins.rps, 1)} argon2id logins/s | ${fmt(flood.during.rps)} | ${flood.during.p50} | ${flood.during.p99} |`);
lines.push('', `p99 during / at rest: ${fmt(ratio, 2)}× (target ≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'})`);
summary.push(`/me p99 under login flood: ${fmt(ratio, 2)}× rest`);

lines.push('', '## Token verifier micro-benchmark', '', await verifierTable());
const profileTop = PROFILE ? topOfProfile() : '';
if (profileTop) lines.push('', '## Profile of the AuthModule server (self time)', '', '| self | function |', '|---:|---|', profileTop);

writeFileSync(join(here, 'results.md'), lines.join('\n') + '\n');
process.stdout.write(lines.join('\n') + '\n\n' + summary.join('\n') + '\n');
