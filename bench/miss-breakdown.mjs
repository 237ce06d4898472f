// `npm run build && node bench/miss-breakdown.mjs [checkout]`: where the HS256 miss path's time goes, step by
// step, in CPU µs per token (the fastest of interleaved passes, as bench:verifier): each row is one
// step alone, over 20,000 distinct login tokens prepared ahead, so the rows can be compared with each
// other and with the bare HMAC. Steps that are not exported are timed through what is (the whole JWS
// layer, the whole claims parse) and by the node:crypto / V8 calls they make. `checkout`: another
// built copy of the repository to time instead (its dist/), for a before/after on the same machine.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JWT_BASE, SECRET, claimsOf } from './verifier.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.argv[2] ?? join(here, '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const N = Number(process.env.BENCH_VERIFIER_TOKENS ?? 20000);
const PASSES = Number(process.env.BENCH_VERIFIER_PASSES ?? 15);

function timeAll(named, n) {
  const chunk = Math.min(n, 2000);
  for (const [, fn] of named) for (let i = 0; i < Math.min(n, 5000); i++) fn(i % n);
  const best = named.map(() => Infinity);
  let offset = 0;
  for (let p = 0; p < PASSES; p++) {
    named.forEach(([, fn], k) => {
      const start = process.cpuUsage();
      for (let i = 0; i < chunk; i++) fn((offset + i) % n);
      const used = process.cpuUsage(start);
      best[k] = Math.min(best[k], (used.user + used.system) / chunk);
    });
    offset = (offset + chunk) % n;
  }
  return named.map(([name], k) => [name, best[k]]);
}

const { TokenCodec } = await dist('tokens/token-codec.js');
const { verifyCompactJws } = await dist('tokens/jws.js');
const { parseJsonObject, parseJsonObjectLatin1 } = await dist('tokens/strict-json.js');
const { decodeSegment, decodeSegmentLatin1 } = await dist('tokens/base64url.js');
const { VerifiedTokenCache } = await dist('authentication/verified-token-cache.js');
const codec = new TokenCodec({ ...JWT_BASE, secret: SECRET, algorithms: ['HS256'] });
const tokens = Array.from({ length: N }, (_, i) => codec.issue(claimsOf(i), 'access').token);
// Fresh strings per call, as a server's headers are: a flat copy of each token.
const fresh = () => tokens.map((t) => JSON.parse(JSON.stringify(t)));
const copies = fresh();
const key = codec.ring.select({ alg: 'HS256' }).verifyKey;
const inputs = tokens.map((t) => Buffer.from(t.slice(0, t.lastIndexOf('.'))));
const sigs = tokens.map((t) => Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url'));
const segments = tokens.map((t) => t.split('.')[1]);
const payloads = segments.map((s) => Buffer.from(s, 'base64url'));
const texts = payloads.map((p) => p.toString('latin1'));
// The claims as the verifier hands them to the cache (what a checkout without the latin1 path parses from bytes).
const verified = copies.map((t) => codec.verify(t, 'access'));
const parsed = texts.map((t) => JSON.parse(t));
const missCache = new VerifiedTokenCache(64);
const verifiedCache = new VerifiedTokenCache(64);
// An app with trusted issuers offers a token its caches missed to the issuers' router first: for its own
// tokens, what that costs before the own verifier runs (no key set is read: the router never gets that far).
const { resolveAuthOptions } = await dist('options/resolve-options.js');
const { TrustedIssuers } = await dist('issuers/trusted-issuers.js');
const issuerOptions = resolveAuthOptions({
  jwt: { ...JWT_BASE, secret: SECRET, algorithms: ['HS256'] },
  users: { findById: async () => null, findByUsername: async () => null },
  trustedIssuers: [{ issuer: 'https://idp.example', audience: 'api', jwksUri: 'https://idp.example/jwks' }],
});
const issuers = new TrustedIssuers({ check: () => null }, issuerOptions);
let sink = 0;

const rows = timeAll(
  [
    ['bare: createHmac + digest + timingSafeEqual', (i) => timingSafeEqual(createHmac('sha256', key).update(inputs[i]).digest(), sigs[i])],
    ['digest: hash(sha256, token, binary)', (i) => (sink += hash('sha256', copies[i], 'binary').length)],
    [
      'JWS layer: verifyCompactJws (HMAC + payload decode to latin1; a Buffer in checkouts before #25)',
      (i) => (sink += verifyCompactJws(copies[i], codec.ring, 8192).payload.length),
    ],
    ['payload: checkSegment + Buffer.from(base64url)', (i) => (sink += decodeSegment(segments[i]).length)],
    ['claims: parseJsonObject (isAscii, latin1, JSON.parse, members)', (i) => (sink += parseJsonObject(payloads[i]).exp)],
    // Since #25 the verifier decodes the payload to a latin1 string and parses that (no Buffer); absent in older checkouts.
    ...(decodeSegmentLatin1
      ? [
          ['payload: decodeSegmentLatin1 (checkSegment, scratch buffer, latin1 text)', (i) => (sink += decodeSegmentLatin1(segments[i]).length)],
          ['claims: parseJsonObjectLatin1 (flat read)', (i) => (sink += parseJsonObjectLatin1(texts[i]).exp)],
        ]
      : []),
    ['  of which JSON.parse alone', (i) => (sink += JSON.parse(texts[i]).exp)],
    ['strict verify: TokenCodec.verify', (i) => (sink += codec.verify(copies[i], 'access').exp)],
    [
      'cache: get (miss) + add + delete',
      (i) => {
        const t = copies[i];
        missCache.get(t);
        missCache.add(t, parsed[i]);
        missCache.delete(t);
      },
    ],
    [
      "own token, trusted issuers configured: the issuers' router hands it on (TrustedIssuers.authenticate)",
      (i) => (sink += issuers.authenticate(copies[i]) === undefined ? 1 : 0),
    ],
    [
      'cache: the same, claims as the verifier gives them',
      (i) => {
        const t = copies[i];
        verifiedCache.get(t);
        verifiedCache.add(t, verified[i]);
        verifiedCache.delete(t);
      },
    ],
  ],
  N,
);
const bare = rows[0][1];
process.stdout.write('| step | µs per token | ÷ bare HMAC |\n|---|---:|---:|\n');
for (const [name, us] of rows) process.stdout.write(`| ${name} | ${us.toFixed(2)} | ${(us / bare).toFixed(2)} |\n`);
if (sink === 0.5) process.stdout.write('\n');
