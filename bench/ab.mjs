// `node bench/ab.mjs <checkout A> <checkout B> <variant> <adapter> <alg> <tokens file> <keys file> [rounds] [s] [warm] [mix]`:
// two builds of the benchmark server (each checkout with dist/ and dist-bench/ built) under the same load at
// once, both pinned to CPU 0, each loaded by its own wrk on CPU 1 (bench/rotate.lua, same token file): a
// warm-up, then `rounds` slices of `s` seconds; prints each slice's CPU µs per request of A and B and A/B
// (above 1: B is cheaper), then the median. bench/README.md.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [rootA, rootB, variant, adapter, alg, tokens, keys, roundsArg = '6', durArg = '2', warmArg = '42000', mix = 'rr'] = process.argv.slice(2);
const ROUNDS = Number(roundsArg);
const DUR = Number(durArg);
const lua = join(dirname(fileURLToPath(import.meta.url)), 'rotate.lua');

function start(root) {
  const child = spawn('taskset', ['-c', '0', process.execPath, join(root, 'dist-bench/server.js'), variant, adapter, '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BENCH_ALG: alg, BENCH_KEYS: keys },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/ready (\d+)/);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}/articles`, next: 0 });
    });
    child.on('exit', (c) => reject(new Error('exit ' + c)));
  });
}
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
function wrk(s, duration, stopAfter = 0) {
  const args = [
    '-c',
    '1',
    'wrk',
    '-t1',
    '-c50',
    `-d${duration}s`,
    '--timeout',
    '10s',
    '-s',
    lua,
    s.url,
    '--',
    tokens,
    String(stopAfter),
    String(s.next),
    mix,
  ];
  return new Promise((resolve) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (stopAfter > 0 && out.includes('WRK_WARM_DONE')) child.kill('SIGINT');
    });
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      const r = JSON.parse(line.slice(9));
      s.next += r.requests;
      resolve(r);
    });
  });
}
const a = await start(rootA);
const b = await start(rootB);
try {
  await Promise.all([wrk(a, 60, Number(warmArg)), wrk(b, 60, Number(warmArg))]);
  const ratios = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ca = cpu(a.child.pid);
    const cb = cpu(b.child.pid);
    const [ra, rb] = await Promise.all([wrk(a, DUR), wrk(b, DUR)]);
    const ua = (1e6 * (cpu(a.child.pid) - ca)) / ra.requests;
    const ub = (1e6 * (cpu(b.child.pid) - cb)) / rb.requests;
    ratios.push(ua / ub);
    console.log(
      `slice ${r + 1}: A ${ua.toFixed(1)} µs/req (${ra.requests}), B ${ub.toFixed(1)} µs/req (${rb.requests}), A/B CPU ${(ua / ub).toFixed(2)}`,
    );
  }
  ratios.sort((x, y) => x - y);
  console.log(
    `median A/B CPU per request: ${ratios[Math.floor(ratios.length / 2)].toFixed(2)} (B cheaper when > 1); load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
} finally {
  a.child.kill('SIGINT');
  b.child.kill('SIGINT');
}
