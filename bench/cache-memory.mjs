// `node bench/cache-memory.mjs [MB] [tokens] [alg] [--built]`: fills a VerifiedTokenCache bounded to MB
// with that many distinct verified tokens (as the guard does: header string -> bearer token ->
// verify -> add) and reports the heap and resident memory the cache holds, against its bound.
// --built: then every token is asked for once more (a hit), so that the object tier keeps as many
// of them built as the bound allows (e.g. `32 20000 HS256 --built`: 20,000 active users, all built).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
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
  // V8's young generation, resident however empty the gc left it: its size is V8's choice from the
  // run's allocation history (the same run with the cache off had 16 MiB where the cache's had 32,
  // tokens read from a file), not memory the cache holds.
  const young = () =>
    getHeapSpaceStatistics()
      .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
      .reduce((sum, s) => sum + s.physical_space_size, 0);
  settle();
  let cache = new VerifiedTokenCache(mb);
  for (let i = 0; i < count; i++) {
    const token = bearerTokenOf(flat(`Bearer ${tokens[i]}`));
    if (cache.get(token) === undefined) cache.add(token, codec.verify(token, 'access'));
  }
  // A hit keeps the entry built (while the bound has room).
  if (built) for (let i = 0; i < count; i++) cache.get(bearerTokenOf(flat(`Bearer ${tokens[i]}`)));
  const filled = settle();
  const filledYoung = young();
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
    youngMb: filledYoung / 2 ** 20,
    bytesPerEntry: Math.round((heapMb * 2 ** 20) / Math.max(1, held)),
    estimatedBytesPerEntry: Math.round((estimatedMb * 2 ** 20) / Math.max(1, held)),
    // Used after the measurements: the tokens live through both (in optimized code a value dies at its
    // last use, and the gc freeing them between the two would shift the difference by their size).
    minted: tokens.length,
  };
  return result;
}

/**
 * Resident memory is a property of the process, so it is compared across two processes that do
 * the same work: one with the cache bounded to `mb`, one with the cache off (bound 0).
 * - Outside V8's young generation (rssOverNoCacheMb; rawRssOverNoCacheMb with it): see `young` above.
 * - With glibc's threshold for giving a block its own mapping fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_)
 *   in both: by default glibc raises it after the first large block freed, so later large blocks (the
 *   cache's typed arrays) come from the main heap, where the holes the run's freed temporaries leave
 *   below them stay resident, a few MiB more or less from one run to the next.
 * - The median of `runs` (CACHE_MEMORY_RUNS, 3) runs of each: identical runs of one process differed
 *   by up to 6 MiB (allocator and GC threads), both ways; the heap the cache holds (heapMb) is the same
 *   in every run. The runs' figures are in rssOutsideYoungMb and rssOutsideYoungNoCacheMb.
 */
export function residentCheck(mb = 32, count = 200000, alg = 'HS256', built = false, runs = Number(process.env.CACHE_MEMORY_RUNS ?? 3)) {
  const run = (bound) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ['--expose-gc', fileURLToPath(import.meta.url), '--one', String(bound), String(count), alg, ...(built ? ['--built'] : [])],
        {
          encoding: 'utf8',
          env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' },
        },
      ),
    );
  const outsideYoung = (r) => r.rssMb - r.youngMb;
  const offRuns = [];
  const onRuns = [];
  for (let i = 0; i < Math.max(1, runs); i++) {
    offRuns.push(run(0));
    onRuns.push(run(mb));
  }
  const median = (rs) => [...rs].sort((a, b) => outsideYoung(a) - outsideYoung(b))[(rs.length - 1) >> 1];
  const off = median(offRuns);
  const on = median(onRuns);
  const rssOverNoCacheMb = outsideYoung(on) - outsideYoung(off);
  return {
    ...on,
    rssOverNoCacheMb,
    rawRssOverNoCacheMb: on.rssMb - off.rssMb,
    youngNoCacheMb: off.youngMb,
    rssOutsideYoungMb: onRuns.map(outsideYoung),
    rssOutsideYoungNoCacheMb: offRuns.map(outsideYoung),
    withinBound: rssOverNoCacheMb <= mb && on.heapMb <= mb,
  };
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
