// `npm run bench:verifier`: µs per token, per algorithm, in one run:
//   - the bare signature check (node:crypto alone, on bytes prepared ahead),
//   - the strict verification (TokenCodec.verify: every check),
//   - the whole miss path of the guard: header -> bearer token -> cache miss -> verify ->
//     cache insert (with eviction) -> revocation gate (cached mode) -> auth context -> principal,
//   - the hit path for comparison.
// Distinct tokens (BENCH_VERIFIER_TOKENS, default 20,000) in a cache too small for them, so every
// miss-path call is a real miss with an eviction. Fresh header strings per call, as a server sees.
import { createHmac, generateKeyPairSync, timingSafeEqual, verify } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = (p) => import(pathToFileURL(join(here, '../dist', p)).href);
export const SECRET = 'bench-secret-that-is-long-enough-for-hs256!';
const TOKENS = Number(process.env.BENCH_VERIFIER_TOKENS ?? 20000);

/**
 * µs per call of each function, measured interleaved: many short passes taking
 * turns, in CPU time of this process (on a shared machine, wall time counts
 * the time other processes hold the core); the fastest pass of each is kept.
 */
function timeAll(fns, n, passes = Number(process.env.BENCH_VERIFIER_PASSES ?? 15)) {
  const chunk = Math.min(n, 2000);
  for (const fn of fns) for (let i = 0; i < Math.min(n, 5000); i++) fn(i % n);
  const best = fns.map(() => Infinity);
  let offset = 0;
  for (let p = 0; p < passes; p++) {
    fns.forEach((fn, k) => {
      // CPU time of this process, not wall time: time spent descheduled by other processes does not count.
      const start = process.cpuUsage();
      for (let i = 0; i < chunk; i++) fn((offset + i) % n);
      const used = process.cpuUsage(start);
      best[k] = Math.min(best[k], (used.user + used.system) / chunk);
    });
    offset = (offset + chunk) % n;
  }
  return best;
}

export const JWT_BASE = {
  accessTokenTtl: 900,
  refreshTokenTtl: 1209600,
  slidingSessions: false,
  refreshReuseGraceSeconds: 0,
  clockTolerance: 0,
  header: 'authorization',
  maxTokenLength: 8192,
  maxTokenLifetime: 1209600,
};

/** The keys for every benchmarked algorithm, as `jwt` options. */
export function benchKeys() {
  return {
    HS256: { secret: SECRET },
    RS256: { privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey },
    ES256: { privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey },
    EdDSA: { privateKey: generateKeyPairSync('ed25519').privateKey },
  };
}

/** Claims of a realistic access token for user `i`, as login issues them. */
export const claimsOf = (i) => ({
  sub: String(100000 + i),
  username: `user${i}`,
  sid: `s${i.toString(36).padStart(8, '0')}`,
  permissions: ['articles:read', 'articles:write'],
});

/** A module from dist/, at its current place or where it was before the #9/#10 split. */
const distAny = async (...paths) => {
  for (const p of paths) {
    try {
      return await dist(p);
    } catch {
      // next
    }
  }
  return {};
};

async function guardParts() {
  const { VerifiedTokenCache } = await distAny('authentication/verified-token-cache.js', 'guard/verified-token-cache.js');
  const { bearerTokenOf } = await distAny('credentials/bearer.js', 'guard/credentials.js');
  const { principalOf } = await distAny('authentication/principal.js', 'guard/principal.js');
  const { authOf } = await distAny('authentication/authenticator.js', 'guard/auth.guard.js');
  let gate;
  // A frozen clock: the timed loops are synchronous, so the poller cannot run and a real clock would go stale.
  const startedAt = Date.now();
  try {
    const { RevocationGate } = await dist('revocation/revocation-gate.js');
    const { InMemoryRevocationStore, InMemoryUserCutoffStore } = await dist('revocation/in-memory-revocation.store.js');
    const { InMemorySessionStore } = await dist('sessions/in-memory-session.store.js');
    const stores = { revocations: new InMemoryRevocationStore(), sessions: new InMemorySessionStore(), cutoffs: new InMemoryUserCutoffStore() };
    const options = { consistency: 'cached', syncIntervalMs: 1000, accessTokenTtl: 900, maxTokenLifetime: 1209600 };
    if (typeof RevocationGate.prototype.synced === 'function') {
      // Since #24: the gate is the verdict alone; a successful read of the (empty) store is what makes it fresh.
      gate = new RevocationGate(stores, options, () => startedAt);
      gate.synced(startedAt);
    } else {
      gate = new RevocationGate(stores, options, () => startedAt);
      await gate.start();
    }
  } catch (err) {
    process.stderr.write(`bench:verifier: no revocation gate in the miss path (${err instanceof Error ? err.message : err})\n`);
    gate = undefined;
  }
  return { VerifiedTokenCache, bearerTokenOf, principalOf, authOf, gate };
}

/** The gate's verdict for verified claims, on the gate's API of either tree. */
const verdictOf = (gate, c) =>
  typeof gate.check === 'function' && gate.check.length === 1 ? gate.check(c) : gate.checkCached(c.jti, c.sid, c.sub, c.iat);

export async function verifierRows() {
  const { TokenCodec } = await dist('tokens/token-codec.js');
  const parts = await guardParts();
  const keys = benchKeys();
  const rows = [];
  for (const alg of (process.env.BENCH_VERIFIER_ALGS ?? 'HS256,RS256,ES256,EdDSA').split(',')) {
    const codec = new TokenCodec({ ...JWT_BASE, ...keys[alg], algorithms: [alg] });
    const n = alg === 'HS256' ? TOKENS : Math.min(TOKENS, 4000);
    const tokens = Array.from({ length: n }, (_, i) => codec.issue(claimsOf(i), 'access').token);
    const headers = tokens.map((t) => `Bearer ${t}`);
    const key = codec.ring.select({ alg }).verifyKey;
    const inputs = tokens.map((t) => Buffer.from(t.slice(0, t.lastIndexOf('.'))));
    const sigs = tokens.map((t) => Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url'));
    const bare = {
      HS256: (i) => timingSafeEqual(createHmac('sha256', key).update(inputs[i]).digest(), sigs[i]),
      RS256: (i) => verify('sha256', inputs[i], key, sigs[i]),
      ES256: (i) => verify('sha256', inputs[i], { key, dsaEncoding: 'ieee-p1363' }, sigs[i]),
      EdDSA: (i) => verify(null, inputs[i], key, sigs[i]),
    }[alg];
    // Every call a miss: the token is taken out again after its insert (as an eviction would), so the
    // passes over the same tokens never hit. The cache has room: each miss is admitted and encoded.
    const missCache = new parts.VerifiedTokenCache(64);
    const hitCache = new parts.VerifiedTokenCache(64);
    const { gate, authOf, principalOf, bearerTokenOf } = parts;
    const guardOnMiss = (cache) => (i) => {
      const token = bearerTokenOf(headers[i]);
      let entry = cache.get(token);
      if (entry === undefined) entry = cache.add(token, codec.verify(token, 'access'));
      const c = entry.claims;
      if (gate && verdictOf(gate, c) !== null) throw new Error('revoked?');
      const auth = authOf ? authOf(entry) : { claims: c };
      if (cache === missCache) cache.delete(token);
      return principalOf ? principalOf(auth) : auth;
    };
    for (let i = 0; i < n; i++) guardOnMiss(hitCache)(i);
    const [bareUs, verifyUs, missUs, hitUs] = timeAll(
      [bare, (i) => codec.verify(tokens[i], 'access'), guardOnMiss(missCache), guardOnMiss(hitCache)],
      n,
    );
    rows.push({ alg, bareUs, verifyUs, missUs, hitUs });
  }
  await parts.gate?.stop?.();
  return rows;
}

export function verifierTable(rows) {
  const lines = [
    '| algorithm | bare signature µs | strict verify µs | whole miss path µs | miss path ÷ bare | hit path µs |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const target = r.alg === 'HS256' ? ` (target ≤ 2×: ${r.missUs / r.bareUs <= 2 ? 'met' : 'NOT met'})` : '';
    lines.push(
      `| ${r.alg} | ${r.bareUs.toFixed(2)} | ${r.verifyUs.toFixed(2)} | ${r.missUs.toFixed(2)} | ${(r.missUs / r.bareUs).toFixed(2)}×${target} | ${r.hitUs.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(verifierTable(await verifierRows()) + '\n');
}
