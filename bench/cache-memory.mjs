// `node bench/cache-memory.mjs [MB] [tokens] [alg] [--built]`: fills a VerifiedTokenCache bounded to MB
// with that many distinct verified tokens (as the guard does: header string -> bearer token ->
// verify -> add) and reports the heap and resident memory the cache holds, against its bound.
// --built: then every token is asked for once more (a hit), so that the object tier keeps as many
// of them built as the bound allows (e.g. `32 20000 HS256 --built`: 20,000 active users, all built).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JWT_BASE, benchKeys, claimsOf } from './verifier.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = (p) => import(pathToFileURL(join(here, '../dist', p)).href);

/** A new sequential string with the same characters (a template literal makes a cons string V8 can slice back to its parts). */
const flat = (s) => JSON.parse(JSON.stringify(s));

export async function cacheMemory(mb = 32, count = 200000, alg = 'HS256', built = false) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const { TokenCodec } = await dist('tokens/token-codec.js');
  const { VerifiedTokenCache } = await dist('authentication/verified-token-cache.js').catch(() => dist('guard/verified-token-cache.js'));
  const { bearerTokenOf } = await dist('credentials/bearer.js').catch(() => dist('guard/credentials.js'));
  const codec = new TokenCodec({ ...JWT_BASE, ...benchKeys()[alg], algorithms: [alg] });
  // Minting is outside the measurement; each request's header is a fresh heap string, as the HTTP parser's.
  // BENCH_TOKENS_FILE: login tokens minted ahead with the same HS256 secret (bench/run.mjs passes its own), not minted again.
  const file = process.env.BENCH_TOKENS_FILE;
  const tokens = file && alg === 'HS256' ? readFileSync(file, 'utf8').split('\n', count).filter(Boolean).map(flat) : [];
  for (let i = tokens.length; i < count; i++) tokens.push(codec.issue(claimsOf(i), 'access').token);
  const settle = () => {
    for (let i = 0; i < 4; i++) globalThis.gc();
    return process.memoryUsage();
  };
  settle();
  let cache = new VerifiedTokenCache(mb);
  for (let i = 0; i < count; i++) {
    const token = bearerTokenOf(flat(`Bearer ${tokens[i]}`));
    if (cache.get(token) === undefined) cache.add(token, codec.verify(token, 'access'));
  }
  // A hit keeps the entry built (while the bound has room).
  if (built) for (let i = 0; i < count; i++) cache.get(bearerTokenOf(flat(`Bearer ${tokens[i]}`)));
  const filled = settle();
  const held = cache.size;
  const builtHeld = cache.builtSize ?? 0;
  const estimatedMb = cache.estimatedBytes / 2 ** 20;
  // What the cache holds is what its release frees: heap measured with it, then without it.
  cache = undefined;
  const released = settle();
  // The cache's fixed arrays are typed arrays, whose memory V8 keeps outside the JS heap: counted too.
  const heapMb = (filled.heapUsed + filled.arrayBuffers - released.heapUsed - released.arrayBuffers) / 2 ** 20;
  const result = {
    alg,
    boundMb: mb,
    tokens: count,
    held,
    built: builtHeld,
    estimatedMb,
    heapMb,
    rssMb: filled.rss / 2 ** 20,
    bytesPerEntry: Math.round((heapMb * 2 ** 20) / Math.max(1, held)),
    estimatedBytesPerEntry: Math.round((estimatedMb * 2 ** 20) / Math.max(1, held)),
  };
  return result;
}

/**
 * Resident memory is a property of the process, so it is compared across two processes that do
 * the same work: one with the cache bounded to `mb`, one with the cache off (bound 0).
 */
export function residentCheck(mb = 32, count = 200000, alg = 'HS256', built = false) {
  const run = (bound) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ['--expose-gc', fileURLToPath(import.meta.url), '--one', String(bound), String(count), alg, ...(built ? ['--built'] : [])],
        {
          encoding: 'utf8',
        },
      ),
    );
  const off = run(0);
  const on = run(mb);
  return { ...on, rssOverNoCacheMb: on.rssMb - off.rssMb, withinBound: on.rssMb - off.rssMb <= mb && on.heapMb <= mb };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const built = args.includes('--built');
  const rest = args.filter((a) => a !== '--built');
  if (rest[0] === '--one') {
    process.stdout.write(JSON.stringify(await cacheMemory(Number(rest[1]), Number(rest[2]), rest[3], built)) + '\n');
  } else {
    const [mb = '32', count = '200000', alg = 'HS256'] = rest;
    process.stdout.write(JSON.stringify(residentCheck(Number(mb), Number(count), alg, built), null, 1) + '\n');
  }
}
