// `npm run bench [-- --quick] [-- --profile] [-- --extras]`: the guard under a realistic token mix.
//
// Every workload is one server process pinned to CPU 0 (taskset), loaded by Debian's `wrk` (one
// thread) pinned to CPU 1, with a Lua script (bench/rotate.lua) that sends the bearer tokens of 1,
// 20,000 or 200,000 distinct users, minted ahead (bench/.cache, reused while valid), round robin, by
// a Zipf law (s = 1.0) or as a 20,000-user working set drifting through the 200,000 ("day"). Each workload runs beside a bare
// server of its own, in alternating slices (paired A/B, see throughput()); ratios are per pair, then the
// median over pairs. The generator is shown not to be the bottleneck: its CPU use per run, and the bare
// app under two generators at once. Then the verifier micro-benchmark and the cache's memory check.
// Servers listen on port 0 and report theirs; a workload that fails is tried once more, then marked
// in the table, and the run goes on. Writes bench/results.md. Progress lines on stderr carry the time
// since the start ([mm:ss]): where a run's time goes. Only the token files the selected workloads read
// are minted; a warm-up ends as soon as its requests are answered (wrk alone would sleep out its -d).
//   --quick   a fast subset: 2 pairs, HS256 1/20k/200k round robin, HS256 and ES256 200k Zipf, bare;
//             no generator check; verifier HS256/ES256 only; writes bench/results-quick.md
//   --profile only where the time goes: a CPU profile (--cpu-prof) of the server, alone, under the bare
//             app and HS256 with 1, 20,000 (hits) and 200,000 users (misses), on each adapter; µs per
//             request by category and the module's functions: bench/results-profile.md
//   --extras  also the NestJS docs recipe (passport-jwt) and /me under a login flood
//   env: BENCH_DURATION (s per slice, default 2), BENCH_ROUNDS (pairs, 6), BENCH_CONNECTIONS (50),
//        BENCH_ADAPTERS (express,fastify), BENCH_ONLY (comma-separated substrings of workload names)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JWT_BASE, SECRET, benchKeys, claimsOf, verifierRows, verifierTable } from './verifier.mjs';
import { residentCheck } from './cache-memory.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const cacheDir = join(here, '.cache');
const profileDir = join(here, 'profiles');
const flags = new Set(process.argv.slice(2));
const QUICK = flags.has('--quick');
const PROFILE = flags.has('--profile');
const EXTRAS = flags.has('--extras');
const DURATION = Number(process.env.BENCH_DURATION ?? 2);
// Pairs of slices per workload (see throughput()).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 2 : 6));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ADAPTERS = (process.env.BENCH_ADAPTERS ?? 'express,fastify').split(',');
/** Comma-separated substrings of workload names (any of them selects a workload). */
const ONLY = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const CLK_TCK = 100;
const T0 = Date.now();

/** A progress line on stderr, stamped with the time since the run began (where a run's time goes). */
function progress(line) {
  const s = Math.round((Date.now() - T0) / 1000);
  process.stderr.write(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}\n`);
}

/** Targets (issues #14 and #25): × bare (CPU), medians over the slices of one run. */
const TARGETS = {
  'fastify auth HS256 1': 0.9,
  'fastify auth HS256 20000': 0.85,
  'fastify auth ES256 20000': 0.75,
  'fastify auth HS256 200000': 0.7,
  'fastify auth HS256 200000 zipf': 0.9,
  'fastify auth ES256 200000 zipf': 0.8,
  'express auth HS256 1': 0.95,
  'express auth HS256 20000': 0.95,
  'express auth HS256 200000': 0.8,
};

// ---------------------------------------------------------------- preconditions

function requireWrk() {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    process.stderr.write(
      'npm run bench needs wrk (https://github.com/wg/wrk), the load generator it measures with.\n' +
        'Install it: sudo apt-get install wrk   (Debian/Ubuntu; macOS: brew install wrk)\n',
    );
    process.exit(1);
  }
  return (probe.stdout + probe.stderr).split('\n')[0].trim();
}

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return cpus().length > 1;
  } catch {
    return false;
  }
})();
const pinned = (cpu, cmd, args) => (hasTaskset ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);

// ---------------------------------------------------------------- keys and tokens, minted ahead

/** PEMs for every algorithm, kept in bench/.cache so the minted tokens stay valid between runs. */
function keyFile() {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, 'keys.json');
  if (!existsSync(file)) {
    const keys = benchKeys();
    const pems = { HS256: SECRET };
    for (const alg of ['RS256', 'ES256', 'EdDSA']) pems[alg] = keys[alg].privateKey.export({ format: 'pem', type: 'pkcs8' });
    for (const f of readdirSync(cacheDir)) if (f.startsWith('tokens-')) rmSync(join(cacheDir, f));
    writeFileSync(file, JSON.stringify(pems));
  }
  return file;
}

const TOKEN_TTL = 6 * 86400;

/** A file of `users` distinct users' access tokens for `alg`, one a line; minted once, reused while they have a day left. */
async function tokenFile(alg, users, keysPath) {
  const now = Math.floor(Date.now() / 1000);
  const prefix = `tokens-${alg}-${users}-`;
  const held = readdirSync(cacheDir).filter((f) => f.startsWith(prefix));
  const fresh = held.find((f) => Number(f.slice(prefix.length, -4)) > now + 86400);
  if (fresh) return join(cacheDir, fresh);
  for (const f of held) rmSync(join(cacheDir, f));
  const { TokenCodec } = await import(pathToFileURL(join(root, 'dist/tokens/token-codec.js')).href);
  const pems = JSON.parse(readFileSync(keysPath, 'utf8'));
  const key = alg === 'HS256' ? { secret: pems.HS256 } : { privateKey: pems[alg] };
  const codec = new TokenCodec({ ...JWT_BASE, ...key, algorithms: [alg] });
  progress(`  minting ${users} ${alg} tokens...`);
  const lines = [];
  for (let i = 0; i < users; i++) lines.push(codec.issue(claimsOf(i), 'access', { expiresIn: TOKEN_TTL }).token);
  const file = join(cacheDir, `${prefix}${now + TOKEN_TTL}.txt`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * The same users' tokens as an identity provider issues them for the `issuer` workload: its iss and aud, the kid
 * of its JWK Set (bench/src/server.ts serves the public key), `typ` JWT, signed here with node:crypto.
 */
async function issuerTokenFile(alg, users, keysPath) {
  const now = Math.floor(Date.now() / 1000);
  const prefix = `tokens-iss-${alg}-${users}-`;
  const held = readdirSync(cacheDir).filter((f) => f.startsWith(prefix));
  const fresh = held.find((f) => Number(f.slice(prefix.length, -4)) > now + 86400);
  if (fresh) return join(cacheDir, fresh);
  for (const f of held) rmSync(join(cacheDir, f));
  const { createPrivateKey, sign } = await import('node:crypto');
  const key = createPrivateKey(JSON.parse(readFileSync(keysPath, 'utf8'))[alg]);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const header = b64({ alg, typ: 'JWT', kid: 'bench-issuer' });
  progress(`  minting ${users} ${alg} provider tokens...`);
  const lines = [];
  for (let i = 0; i < users; i++) {
    const { sid: _sid, ...claims } = claimsOf(i);
    const payload = b64({ iss: 'https://idp.bench.test', aud: 'bench-api', ...claims, iat: now, exp: now + TOKEN_TTL, jti: `j${i}` });
    const input = `${header}.${payload}`;
    const signature =
      alg === 'ES256' ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }) : sign('sha256', Buffer.from(input), key);
    lines.push(`${input}.${signature.toString('base64url')}`);
  }
  const file = join(cacheDir, `${prefix}${now + TOKEN_TTL}.txt`);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

// ---------------------------------------------------------------- servers and load

/** A server on a port the system assigns (port 0): it reports the port on its "ready" line, so no other process can take it first. */
async function startServer(w, extraArgs = [], env = {}) {
  const [cmd, args] = pinned(0, process.execPath, [...extraArgs, join(root, 'dist-bench/server.js'), w.variant, w.adapter, '0']);
  const child = spawn(cmd, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BENCH_ALG: w.alg ?? 'HS256', BENCH_KEYS: w.keys, ...env },
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/ready (\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${w.name} server exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`${w.name} server not ready after 60 s: ${stderr}`)), 60000).unref();
  });
  return { child, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

async function stopServer(server) {
  if (!server || server.child.exitCode !== null) return;
  server.child.kill('SIGINT');
  await new Promise((resolve) => server.child.once('exit', resolve));
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * One wrk run on CPU 1 through bash, whose `times` gives wrk's own CPU seconds.
 * `stopAfter` > 0: a warm-up that ends after that many responses (or `duration`).
 */
function wrk({ url, tokens, duration, connections = CONNECTIONS, stopAfter = 0, first = 0, mix = 'rr' }) {
  const wrkArgs = [
    '-t1',
    `-c${connections}`,
    `-d${duration}s`,
    '--timeout',
    '10s',
    '-s',
    join(here, 'rotate.lua'),
    url,
    '--',
    tokens ?? '',
    String(stopAfter),
    String(first),
    mix,
  ];
  const [cmd, args] = pinned(1, 'wrk', wrkArgs);
  const quoted = [cmd, ...args].map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    // wrk in the background of the shell, so its pid is known (taskset execs it): a warm-up is ended by
    // SIGINT once rotate.lua says its responses are in (wrk would otherwise sleep out the whole -d).
    const child = spawn('bash', ['-c', `${quoted} & p=$!; echo "WRK_PID $p"; wait $p; s=$?; times >&2; exit $s`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let interrupted = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (stopAfter > 0 && !interrupted && out.includes('WRK_WARM_DONE')) {
        const pid = Number(out.match(/WRK_PID (\d+)/)?.[1]);
        if (pid > 0) {
          interrupted = true;
          try {
            process.kill(pid, 'SIGINT');
          } catch {
            // already gone: it ended on its own
          }
        }
      }
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk exited with ${code}: ${err || out}`));
      const r = JSON.parse(line.slice('WRK_JSON '.length));
      // `times` prints the shell's line, then its children's: "0m1.234s 0m0.567s".
      const children = err
        .trim()
        .split('\n')
        .at(-1)
        .match(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/);
      const wrkCpu = children ? Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4]) : NaN;
      const seconds = r.duration_us / 1e6;
      resolve({
        rps: r.requests / seconds,
        requests: r.requests,
        seconds,
        p50: r.p50_us / 1000,
        p99: r.p99_us / 1000,
        errors: r.status_errors + r.connect_errors + r.read_errors + r.write_errors + r.timeouts,
        wrkCpu: wrkCpu / seconds,
      });
    });
  });
}

/**
 * Warm-up, JIT warm and, when the cache can hold every token, each token sent twice: its first request
 * verifies it, its second (the first hit) keeps it built, so the measured slices see the steady state of
 * a working set that fits, built hits. Ended as soon as its requests are answered (see wrk()).
 */
async function warm(w, server) {
  // 200,000 users stay misses whatever the warm-up, so they get the same 20,000 requests as the rest.
  const r = await wrk({
    url: `${server.url}/articles`,
    tokens: w.tokens,
    duration: 30,
    mix: w.mix,
    stopAfter: w.users <= 25000 ? Math.max(20000, Math.ceil(w.users * 2.1)) : QUICK ? 10000 : 20000,
  });
  // Where the next run goes on in the token file: one rotation over every run of this server.
  server.next = r.requests;
}

/** One measured run with the server's CPU use, going on with the rotation where the last run of this server stopped. */
async function slice(w, server, duration = DURATION) {
  const pid = server.child.pid;
  const held0 = await verifiedEntries(server);
  const cpu0 = cpuSeconds(pid);
  const from = process.hrtime.bigint() / 1000n;
  const r = await wrk({ url: `${server.url}/articles`, tokens: w.tokens, duration, first: server.next ?? 0, mix: w.mix });
  server.next = (server.next ?? 0) + r.requests;
  const used = cpuSeconds(pid) - cpu0;
  const held1 = await verifiedEntries(server);
  if (r.errors > 0) throw new Error(`${w.name}: ${r.errors} failed requests (non-2xx, socket errors or timeouts)`);
  // Server CPU over the load itself (wrk's start-up, reading the token file, is idle time for the server),
  // and its CPU cost per request, which other processes on a shared core do not change much.
  return {
    ...r,
    serverCpu: used / r.seconds,
    cpuUsPerRequest: (1e6 * used) / r.requests,
    // Requests that were a token's first on this server: each one is a miss, and every miss of these runs enters
    // the cache (it holds more than the 200,000 users, nothing expires), so the entries it gained count them.
    missShare: held0 === undefined || held1 === undefined ? undefined : (held1 - held0) / r.requests,
    window: [Number(from), Number(process.hrtime.bigint() / 1000n)],
  };
}

/** The module's verified-token cache entries (the bench server's `/bench/verified`); undefined for an app without it. */
async function verifiedEntries(server) {
  try {
    const res = await fetch(`${server.url}/bench/verified`);
    return res.ok ? (await res.json()).size : undefined;
  } catch {
    return undefined;
  }
}

/** Warm-up, then one measured run. */
async function measure(w, server) {
  await warm(w, server);
  return slice(w, server);
}

// ---------------------------------------------------------------- workloads

/** The selected workloads; each names its token file (`tokensId`), minted afterwards: only the files a selected workload reads. */
function workloads(keys) {
  const list = [];
  const add = (adapter, variant, alg, users, mix = 'rr') => {
    const measured = variant.startsWith('auth') || variant === 'issuer';
    const name = measured ? `${adapter} ${variant} ${alg} ${users}${mix === 'rr' ? '' : ` ${mix}`}` : `${adapter} ${variant}`;
    // The bare variants get the same rotating headers as the HS256 20,000 workload: the same bytes to parse.
    const tokensId = `${variant === 'issuer' ? 'iss-' : ''}${alg ?? 'HS256'}-${measured ? users : 20000}`;
    if (!ONLY || ONLY.some((o) => name.includes(o)) || variant === 'bare' || variant === 'bare-guard')
      list.push({ name, adapter, variant, alg, users: users ?? 20000, mix, tokensId, keys });
  };
  for (const adapter of ADAPTERS) {
    add(adapter, 'bare');
    if (!QUICK) add(adapter, 'bare-als');
    if (!QUICK) add(adapter, 'bare-guard');
    if (!QUICK) add(adapter, 'bare-interceptor');
    for (const [alg, users, mix] of matrix()) add(adapter, 'auth', alg, users, mix);
    // Every guarded handler in the request context (requestContext: true): what 'auto' saves.
    if (!QUICK) for (const [alg, users] of CTX) add(adapter, 'auth-ctx', alg, users);
    // An identity provider's tokens (trustedIssuers): beside the module's own of the same algorithm and users.
    if (!QUICK) for (const [alg, users] of ISSUER) add(adapter, 'issuer', alg, users);
    if (EXTRAS) add(adapter, 'recipe', 'HS256', 1);
  }
  return list;
}

const ISSUER = [
  ['RS256', 1],
  ['RS256', 20000],
  ['ES256', 1],
  ['ES256', 20000],
];

const CTX = [
  ['HS256', 1],
  ['HS256', 20000],
];

/** [algorithm, users, mix]: rr = round robin (the default), zipf = Zipf s = 1.0, day = a drifting 20,000-user working set (bench/rotate.lua). */
function matrix() {
  if (QUICK)
    return [
      ['HS256', 1],
      ['HS256', 20000],
      ['HS256', 200000],
      ['HS256', 200000, 'zipf'],
      ['ES256', 200000, 'zipf'],
    ];
  // 200,000 RS256 tokens would take minutes to mint (1-3 ms a signature) for no new information: misses cost the RSA verify.
  return [
    ['HS256', 1],
    ['HS256', 20000],
    ['HS256', 200000],
    ['RS256', 1],
    ['RS256', 20000],
    ['ES256', 1],
    ['ES256', 20000],
    ['ES256', 200000],
    ['EdDSA', 1],
    ['EdDSA', 20000],
    ['HS256', 200000, 'zipf'],
    ['HS256', 200000, 'day'],
    ['ES256', 200000, 'zipf'],
    ['ES256', 200000, 'day'],
  ];
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Paired A/B runs, at the same time: this 2-core VM's speed drifts by 2x within seconds (other tenants), so
 * the workload's server and a bare server of its own are both pinned to CPU 0 and loaded at once, each by its
 * own wrk on CPU 1, for ROUNDS slices of DURATION s. Both see the same machine at every instant; each gets about
 * half the core, so the result is the CPU time per request of each, read from /proc over the same window
 * (× bare (CPU) = bare's CPU per request over the workload's). The bare workload is paired with a second bare
 * server: its ratio shows the noise that remains.
 */
async function throughput(list) {
  const samples = new Map(list.map((w) => [w.name, []]));
  for (const adapter of ADAPTERS) {
    for (const w of list.filter((x) => x.adapter === adapter)) {
      // A failed workload (a server that does not start, wrk errors) is tried once more, then marked
      // and skipped: one bad minute on a shared machine must not lose the run.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          samples.set(w.name, await pairedRun(w, adapter));
          if (attempt > 1) w.retried = true;
          break;
        } catch (err) {
          process.stderr.write(`  ${w.name}: attempt ${attempt} failed: ${err instanceof Error ? err.message.split('\n')[0] : err}\n`);
          w.failures = [...(w.failures ?? []), err instanceof Error ? err.message.split('\n')[0] : String(err)];
          if (attempt === 2) samples.set(w.name, []);
        }
      }
    }
  }
  return samples;
}

async function pairedRun(w, adapter) {
  const out = [];
  // The bare side gets the workload's own token file: the same header bytes to parse.
  const bareW = { ...w, name: `${adapter} bare`, variant: 'bare' };
  let bare;
  let server;
  try {
    // Both started, whichever fails: a server that did start is stopped below.
    const started = await Promise.allSettled([startServer(bareW), startServer(w)]);
    [bare, server] = started.map((p) => (p.status === 'fulfilled' ? p.value : undefined));
    const failed = started.find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    progress(`  ${w.name}: both servers ready`);
    await Promise.all([warm(bareW, bare), warm(w, server)]);
    progress(`  ${w.name}: both warmed up`);
    for (let pair = 0; pair < ROUNDS; pair++) {
      const [b, r] = await Promise.all([slice(bareW, bare), slice(w, server)]);
      out.push({ ...r, round: pair, bareRps: b.rps, bareCpuUs: b.cpuUsPerRequest, bareServerCpu: b.serverCpu });
      progress(
        `  pair ${pair + 1}/${ROUNDS} ${w.name.padEnd(34)} ${fmt(r.rps).padStart(7)} req/s (bare ${fmt(b.rps).padStart(7)})  ` +
          `${fmt(r.rps / b.rps, 2)}×  CPU ${fmt(b.cpuUsPerRequest / r.cpuUsPerRequest, 2)}×  server CPU ${pct(r.serverCpu)}  wrk CPU ${pct(r.wrkCpu)}`,
      );
    }
  } finally {
    await Promise.all([stopServer(bare), stopServer(server)]);
    progress(`  ${w.name}: servers stopped`);
  }
  return out;
}

/** The bare app under one generator, then two at once (both on CPU 1, half the connections each). */
async function generatorCheck(adapter, files, keys) {
  const w = { name: `${adapter} bare`, adapter, variant: 'bare', keys, tokens: files['HS256-20000'], users: 20000 };
  const server = await startServer(w);
  try {
    const url = `${server.url}/articles`;
    await wrk({ url, tokens: w.tokens, duration: 30, stopAfter: 20000 });
    const one = await wrk({ url, tokens: w.tokens, duration: DURATION });
    const two = await Promise.all([0, 1].map(() => wrk({ url, tokens: w.tokens, duration: DURATION, connections: CONNECTIONS / 2 })));
    return { adapter, one: one.rps, oneCpu: one.wrkCpu, two: two[0].rps + two[1].rps, twoCpu: two[0].wrkCpu + two[1].wrkCpu };
  } finally {
    await stopServer(server);
  }
}

// ---------------------------------------------------------------- profile

async function profileRun(adapter, variant, users, files, keys) {
  mkdirSync(profileDir, { recursive: true });
  // The bare app gets the 200,000-user headers: the same bytes to read as the heaviest workload.
  const tokens = files[`HS256-${variant === 'bare' ? 200000 : users}`];
  const w = { name: `${adapter} ${variant} HS256 ${users}`, adapter, variant, alg: 'HS256', users, tokens, keys };
  const before = new Set(readdirSync(profileDir));
  const server = await startServer(w, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`], { BENCH_GC: '1' });
  let r;
  try {
    r = await measure(w, server);
  } finally {
    await stopServer(server);
  }
  const gcLine = server
    .stderr()
    .split('\n')
    .find((l) => l.startsWith('BENCH_GC '));
  // The main thread's profile (a worker thread writes one of its own, numbered after it).
  const file = readdirSync(profileDir)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .sort()[0];
  return {
    adapter,
    variant,
    users,
    rps: r.rps,
    requests: r.requests,
    cpuUsPerRequest: r.cpuUsPerRequest,
    gc: gcLine ? JSON.parse(gcLine.slice(9)) : undefined,
    file,
    top: file ? topOfProfile(join(profileDir, file), r.window) : { functions: [], categories: [], busy: NaN, idle: NaN },
  };
}

/** Where a profile node's self time goes, coarsely. */
function categoryOf(fn, url) {
  if (fn === '(garbage collector)') return 'GC';
  // The syscall that sends a response: on loopback it also delivers the bytes to wrk and wakes it, charged to the server.
  if (fn === 'writev' && url === '') return 'Node core: writev (sending responses)';
  if (fn === '(program)' || fn === '(root)') return 'V8 / native (unattributed)';
  if (/async_hooks|promiseInitHook|promiseBeforeHook|promiseAfterHook|promiseResolveHook/.test(url + fn)) return 'async_hooks / AsyncLocalStorage';
  // node_modules before dist/: packages have dist/ folders too (rxjs/dist/cjs).
  if (!url.includes('/node_modules/') && url.includes('/dist/')) return 'this module (dist/)';
  if (url.includes('/node_modules/'))
    return `framework: ${url
      .split('/node_modules/')
      .pop()
      .split('/')[0]
      .replace(/^@nestjs$/, '@nestjs')}`;
  if (url.includes('crypto') || /^(Hmac|Hash|digest|update|verify|timingSafeEqual)$/.test(fn)) return 'node:crypto';
  if (url.startsWith('node:') || url === '') return 'Node core (http, net, streams, timers)';
  return 'other';
}

/** Self time of a .cpuprofile as shares of the busy (non-idle) time: the top functions and the categories. */
function topOfProfile(path, [from, to]) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  // Sample times are CLOCK_MONOTONIC µs, the clock of process.hrtime: keep the measured window only.
  let t = profile.startTime;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const categories = new Map();
  const categoryOfKey = new Map();
  let busy = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) return;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += dt;
      return;
    }
    busy += dt;
    const where = url.includes('/node_modules/') ? url.split('/node_modules/').pop().split('/')[0] : url.split('/').slice(-2).join('/');
    const key = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    const cat = categoryOf(functionName, url);
    self.set(key, (self.get(key) ?? 0) + dt);
    categoryOfKey.set(key, cat);
    categories.set(cat, (categories.get(cat) ?? 0) + dt);
  });
  const top = (m, k) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([fn, v]) => ({ share: v / busy, us: v, fn, category: categoryOfKey.get(fn) }));
  return { functions: top(self, 60), categories: top(categories, 100), busy, idle };
}

// ---------------------------------------------------------------- extras: /me during a login flood (autocannon, as before)

function autocannon(spec) {
  const [cmd, args] = pinned(1, process.execPath, [join(here, 'load.mjs'), JSON.stringify(spec)]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited with ${code}`))));
  });
}

async function loginFlood(keys) {
  const server = await startServer({ name: 'express auth login', adapter: 'express', variant: 'auth', keys });
  try {
    const token = (await (await fetch(`${server.url}/token`)).json()).token;
    const me = { url: `${server.url}/me`, token, connections: 10, duration: DURATION };
    await autocannon({ ...me, duration: 2 });
    const rest = await autocannon(me);
    const body = JSON.stringify({ username: 'bench', password: 'bench-password-123' });
    const [during, logins] = await Promise.all([
      autocannon(me),
      autocannon({ url: `${server.url}/auth/login`, method: 'POST', body, connections: 8, duration: DURATION }),
    ]);
    return { rest, during, logins };
  } finally {
    await stopServer(server);
  }
}

// ---------------------------------------------------------------- report

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const pct = (x) => (Number.isFinite(x) ? `${Math.round(100 * x)} %` : 'n/a');

const wrkVersion = requireWrk();
const started = Date.now();
const keys = keyFile();
const files = {};
// Minted (or found in bench/.cache) only for what this run measures: the profile's two loads, or the
// selected workloads' files and the 200,000 HS256 tokens the cache memory check reads.
const list = PROFILE ? [] : workloads(keys);
const needed = new Set(PROFILE ? ['HS256-1', 'HS256-20000', 'HS256-200000'] : ['HS256-200000', ...list.map((w) => w.tokensId)]);
for (const id of needed) {
  const [alg, users] = id.replace(/^iss-/, '').split('-');
  files[id] = await (id.startsWith('iss-') ? issuerTokenFile : tokenFile)(alg, Number(users), keys);
}
for (const w of list) w.tokens = files[w.tokensId];

const commit = (() => {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return `${head}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
})();

if (PROFILE) {
  const out = [
    '# Where the time goes: the server under HS256 load, profiled',
    '',
    `- ${new Date().toISOString()}, Node ${process.version}, commit ${commit}, \`npm run bench -- --profile\``,
    '- Each column is one server alone on CPU 0 (\`--cpu-prof\`), loaded by one wrk on CPU 1 (50 connections), warmed up',
    `  as the paired runs are, then one slice of ${DURATION} s. Figures are µs of the main thread per request over that slice:`,
    "  a category's self time in the profile's samples ÷ the requests answered. `server CPU` is the process's CPU time",
    '  per request from /proc (all threads), the figure the paired runs compare.',
    '',
  ];
  const columns = [
    ['bare', 0],
    ['auth', 1],
    ['auth', 20000],
    ['auth', 200000],
  ];
  const label = ([variant, users]) => (variant === 'bare' ? 'bare' : `${fmt(users)} user${users === 1 ? '' : 's'}`);
  for (const adapter of ADAPTERS) {
    const runs = [];
    for (const [variant, users] of columns) {
      progress(`profile ${adapter} ${variant} ${users}`);
      runs.push(await profileRun(adapter, variant, users, files, keys));
    }
    const per = (r, us) => us / r.requests;
    const cats = [...new Set(runs.flatMap((r) => r.top.categories.map((c) => c.fn)))];
    const usOf = (r, cat) => per(r, r.top.categories.find((c) => c.fn === cat)?.us ?? 0);
    cats.sort((a, b) => usOf(runs[3], b) - usOf(runs[3], a));
    out.push(`## ${adapter}`, '');
    out.push(`| µs per request | ${columns.map(label).join(' | ')} | 200,000 users − bare |`, `|---|${columns.map(() => '---:').join('|')}|---:|`);
    const row = (name, f) => out.push(`| ${name} | ${runs.map((r) => fmt(f(r), 1)).join(' | ')} | ${fmt(f(runs[3]) - f(runs[0]), 1)} |`);
    row('**server CPU (/proc)**', (r) => r.cpuUsPerRequest);
    row('main thread busy (profile)', (r) => per(r, r.top.busy));
    for (const cat of cats) row(`  ${cat}`, (r) => usOf(r, cat));
    row("main thread idle (waiting; wrk's start-up, reading the token file, included)", (r) => per(r, r.top.idle));
    row('req/s', (r) => r.rps);
    out.push('');
    out.push(
      `GC over each run, warm-up included (${columns.map(label).join(' / ')}): ` +
        runs
          .map((r) =>
            r.gc
              ? `${r.gc.scavenges} scavenges ${fmt(r.gc.scavengeMs)} ms, ${r.gc.markCompacts} mark-compacts, heap ${fmt(r.gc.heapUsedMb, 1)} MB`
              : 'n/a',
          )
          .join(' / ') +
        '.',
      '',
    );
    const module = runs[3].top.functions
      .filter((f) => f.category === 'this module (dist/)' || f.category === 'node:crypto' || f.fn.startsWith('RegExp'))
      .slice(0, 15);
    out.push(`The module's functions (and node:crypto, RegExp) at 200,000 users, µs per request (\`bench/profiles/${runs[3].file}\`):`, '');
    out.push('| µs | function |', '|---:|---|', ...module.map((f) => `| ${fmt(per(runs[3], f.us), 2)} | \`${f.fn}\` |`), '');
    const top = runs[3].top.functions.slice(0, 15);
    out.push('Top functions at 200,000 users, µs per request:', '');
    out.push('| µs | function |', '|---:|---|', ...top.map((f) => `| ${fmt(per(runs[3], f.us), 2)} | \`${f.fn}\` |`), '');
  }
  writeFileSync(join(profileDir, 'profile.md'), out.join('\n') + '\n');
  // Kept in the repository beside results.md (the .cpuprofile files stay out of it).
  writeFileSync(join(here, 'results-profile.md'), out.join('\n') + '\n');
  process.stdout.write(out.join('\n') + '\n');
  process.exit(0);
}

progress(`${list.length} workloads × ${ROUNDS} round(s) of ${DURATION} s`);
const samples = await throughput(list);

const lines = [];
const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown CPU';
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
lines.push('# Benchmark results', '');

lines.push(`- date: ${new Date().toISOString()}; commit ${commit}; command: \`npm run bench${QUICK ? ' -- --quick' : ''}\``);
lines.push(`- machine: ${cpuModel}, ${cpus().length} CPUs; Node ${process.version}; load average at the end ${load}`);
lines.push(
  `- server pinned to CPU 0, load on CPU 1${hasTaskset ? '' : ' (taskset missing: NOT pinned)'}: ${wrkVersion}, 1 thread, ${CONNECTIONS} connections, ` +
    '`bench/rotate.lua` rotating the bearer tokens of N distinct users (minted ahead, 1 per request, round robin)',
);
lines.push(
  `- paired runs: per workload a fresh server and a fresh bare server (same token file), both pinned to CPU 0, each warmed up (20,000 requests, ` +
    `42,000 for 20,000 users: every token twice, so its entry is verified, then kept built), then ${ROUNDS} slices of ${DURATION} s in which both are loaded at once (a wrk each, on CPU 1), ` +
    'so both see the same machine at every instant (its speed drifts by 2× within seconds here). × bare (CPU) = median over the slices of ' +
    "(bare's server CPU time per request ÷ the workload's, over the same window); the `bare` row pairs two bare servers: the noise left.",
);
lines.push('- `GET /articles` with `@PermissionRequired`, TypeORM/SQLite cached revocation, default verified-token cache (32 MiB).');
lines.push(
  '- bare: the same route without the module; bare-guard: bare + a global guard that returns true (what Nest charges for any guard); bare-als: bare + a global interceptor running the handler in `AsyncLocalStorage.run()`; bare-interceptor: the same interceptor without the ALS.',
);
lines.push(
  "- auth: the module's defaults (requestContext 'auto'; the measured controller does not inject AuthService, so no interceptor and no AsyncLocalStorage on its routes); requestContext: true: every guarded handler inside AsyncLocalStorage.run(), what 'auto' saves.",
  '',
);
lines.push(
  "× bare is throughput over the bare app's in the same slice; × bare (CPU) is the bare app's server CPU time per request over the workload's in the same slice. " +
    'The two servers share CPU 0 (each shows about 50 % server CPU), so × bare (CPU) is the result and the target column judges by it; ' +
    "× bare agrees with it when the scheduler splits the core evenly. req/s and latencies are each server's under that half core. " +
    "misses: the median share of a slice's requests that were a token's first on its server (each one verified, then cached).",
  '',
);
lines.push(
  '| adapter | workload | users | req/s | p50 ms | p99 ms | server CPU | wrk CPU | server µs CPU/req | misses | × bare | × bare (CPU) | target |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
);
const summary = [];
/** The median share of a workload's requests that were misses (a token's first request on its server); blank without the module's cache. */
const missCell = (s) => (s.some((x) => x.missShare === undefined) ? '' : `${fmt(100 * median(s.map((x) => x.missShare)), 1)} %`);
for (const w of list) {
  const s = samples.get(w.name);
  // Each sample carries the bare run of its own pair.
  const ratio = median(s.map((x) => x.rps / x.bareRps));
  const cpuRatio = median(s.map((x) => x.bareCpuUs / x.cpuUsPerRequest));
  const serverCpu = median(s.map((x) => x.serverCpu));
  // Throughput ratios only mean something when both servers had their core.
  const saturated = serverCpu >= 0.9 && median(s.map((x) => x.bareServerCpu)) >= 0.9;
  const judged = saturated ? ratio : cpuRatio;
  const target = TARGETS[w.name];
  const basis = saturated ? '' : ' (CPU)';
  const verdict = target === undefined ? '' : `≥ ${target}${basis}: ${judged >= target ? 'met' : '**NOT met**'}`;
  if (target !== undefined)
    summary.push(
      `${w.name}: ${fmt(judged, 2)}× bare${basis} (target ${target}: ${judged >= target ? 'met' : 'NOT met'}); throughput ${fmt(ratio, 2)}×`,
    );
  const mixLabel = w.mix === 'zipf' ? ', Zipf s = 1.0' : w.mix === 'day' ? ', day (20,000 active, drifting)' : w.users > 1 ? ', round robin' : '';
  const label =
    (w.variant === 'auth'
      ? `AuthModule ${w.alg}${mixLabel}`
      : w.variant === 'auth-ctx'
        ? `AuthModule ${w.alg}, requestContext: true`
        : w.variant === 'issuer'
          ? `trustedIssuers ${w.alg}${mixLabel}`
          : w.variant) + (w.failures && !w.retried ? ` (**failed twice**: ${w.failures[0]})` : w.retried ? ' (retried once)' : '');
  lines.push(
    `| ${w.adapter} | ${label} | ${w.variant.startsWith('auth') || w.variant === 'issuer' ? fmt(w.users) : ''} | ${fmt(median(s.map((x) => x.rps)))} | ${fmt(median(s.map((x) => x.p50)), 2)} | ${fmt(median(s.map((x) => x.p99)), 2)} | ` +
      `${pct(serverCpu)} | ${pct(median(s.map((x) => x.wrkCpu)))} | ${fmt(median(s.map((x) => x.cpuUsPerRequest)), 1)} | ${missCell(s)} | ${fmt(ratio, 2)} | ${fmt(cpuRatio, 2)} | ${verdict} |`,
  );
}
for (const adapter of ADAPTERS) {
  const als = samples.get(`${adapter} bare-als`);
  if (als) {
    const cost = median(als.map((x) => 1 - x.rps / x.bareRps));
    const cpuCost = median(als.map((x) => x.cpuUsPerRequest / x.bareCpuUs - 1));
    summary.push(
      `${adapter}: interceptor + AsyncLocalStorage.run per request: ${fmt(100 * cost, 1)} % of bare throughput, +${fmt(100 * cpuCost, 1)} % server CPU per request`,
    );
  }
}

progress('load generator check');
lines.push('', '## Is the load generator the bottleneck?', '');
lines.push(
  'The bare app (the fastest server, so the hardest to saturate) under one wrk, then under two wrk processes at once ' +
    '(both on CPU 1, half the connections each). If one generator were the limit, two would serve more; wrk CPU is the share of one core it used.',
  '',
);
lines.push('| adapter | one wrk req/s | its CPU | two wrk req/s (sum) | their CPU | two ÷ one |', '|---|---:|---:|---:|---:|---:|');
for (const adapter of QUICK ? [] : ADAPTERS) {
  try {
    const g = await generatorCheck(adapter, files, keys);
    lines.push(`| ${adapter} | ${fmt(g.one)} | ${pct(g.oneCpu)} | ${fmt(g.two)} | ${pct(g.twoCpu)} | ${fmt(g.two / g.one, 2)} |`);
  } catch (err) {
    lines.push(`| ${adapter} | failed: ${err instanceof Error ? err.message.split('\n')[0] : err} | | | | |`);
  }
}
if (QUICK) lines.push('| (skipped in --quick) | | | | | |');

if (EXTRAS) {
  progress('login flood');
  const flood = await loginFlood(keys);
  const ratio = flood.during.p99 / flood.rest.p99;
  lines.push('', '## /me during a login flood (Express, AuthModule, autocannon)', '');
  lines.push('| | /me req/s | /me p50 ms | /me p99 ms |', '|---|---:|---:|---:|');
  lines.push(`| at rest | ${fmt(flood.rest.rps)} | ${flood.rest.p50} | ${flood.rest.p99} |`);
  lines.push(`| during ${fmt(flood.logins.rps, 1)} argon2id logins/s | ${fmt(flood.during.rps)} | ${flood.during.p50} | ${flood.during.p99} |`);
  lines.push('', `p99 during / at rest: ${fmt(ratio, 2)}× (target ≤ 2×: ${ratio <= 2 ? 'met' : 'NOT met'})`);
}

progress('verifier micro-benchmark');
lines.push('', '## Miss path micro-benchmark (`npm run bench:verifier`)', '');
lines.push(
  'CPU time per token (fastest of interleaved passes), 20,000 distinct tokens; the miss path is what the guard does for a token not in its cache.',
  '',
);
// --quick: fewer passes, HS256 and ES256 only (unless set).
if (QUICK) {
  process.env.BENCH_VERIFIER_PASSES ??= '5';
  process.env.BENCH_VERIFIER_ALGS ??= 'HS256,ES256';
}
const rows = await verifierRows();
lines.push(verifierTable(rows));
const hs = rows.find((r) => r.alg === 'HS256');
if (hs) summary.push(`HS256 whole miss path ${fmt(hs.missUs / hs.bareUs, 2)}× the bare HMAC (target ≤ 2×)`);

progress('cache memory');
// The 200,000 HS256 tokens of the workloads, not minted again in each of its two processes.
process.env.BENCH_TOKENS_FILE = files['HS256-200000'];
const mem = residentCheck(32, 200000, 'HS256');
lines.push('', '## Verified-token cache memory: 200,000 distinct HS256 tokens into the default 32 MiB bound', '');
lines.push('| held | estimated MiB | heap MiB (measured) | RSS over the same run without cache, MiB | within bound |', '|---:|---:|---:|---:|---|');
lines.push(
  `| ${fmt(mem.held)} | ${fmt(mem.estimatedMb, 1)} | ${fmt(mem.heapMb, 1)} | ${fmt(mem.rssOverNoCacheMb, 1)} | ${mem.withinBound ? 'yes' : '**no**'} |`,
);
summary.push(
  `cache: ${fmt(mem.held)} of 200,000 tokens held in 32 MiB, RSS +${fmt(mem.rssOverNoCacheMb, 1)} MiB (${mem.withinBound ? 'within' : 'OVER'} the bound)`,
);

lines.push('', `Whole run: ${fmt((Date.now() - started) / 60000, 1)} min.`);
// A quick run never overwrites the full run's results.
writeFileSync(join(here, QUICK ? 'results-quick.md' : 'results.md'), lines.join('\n') + '\n');
process.stdout.write(lines.join('\n') + '\n\n' + summary.join('\n') + '\n');
