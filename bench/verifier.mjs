// µs per verification: the module's TokenCodec.verify (every check of the strict verifier)
// next to raw node:crypto doing only the signature check on the same token.
import { createHmac, generateKeyPairSync, timingSafeEqual, verify } from 'node:crypto';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const SECRET = 'bench-secret-that-is-long-enough-for-hs256!';

function time(fn, iterations) {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1000 / iterations;
}

export async function verifierTable() {
  const { TokenCodec } = await import(pathToFileURL(join(here, '../dist/tokens/token-codec.js')).href);
  const base = {
    accessTokenTtl: 900,
    refreshTokenTtl: 1209600,
    slidingSessions: false,
    refreshReuseGraceSeconds: 0,
    clockTolerance: 0,
    header: 'authorization',
    maxTokenLength: 8192,
    maxTokenLifetime: 1209600,
  };
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const cases = [
    ['HS256', { secret: SECRET }, 200000],
    ['RS256', { privateKey: rsa.privateKey }, 20000],
    ['ES256', { privateKey: ec.privateKey }, 20000],
    ['EdDSA', { privateKey: ed.privateKey }, 20000],
  ];
  const rows = ['| algorithm | module verify µs | raw node:crypto signature µs | overhead µs |', '|---|---:|---:|---:|'];
  for (const [alg, keys, n] of cases) {
    const codec = new TokenCodec({ ...base, ...keys, algorithms: [alg] });
    const { token } = codec.issue({ sub: '1', username: 'bench', permissions: ['articles:read'] }, 'access');
    const dot = token.lastIndexOf('.');
    const input = Buffer.from(token.slice(0, dot));
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const key = codec.ring.select({ alg }).verifyKey;
    const raw = {
      HS256: () => timingSafeEqual(createHmac('sha256', key).update(input).digest(), sig),
      RS256: () => verify('sha256', input, key, sig),
      ES256: () => verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, sig),
      EdDSA: () => verify(null, input, key, sig),
    }[alg];
    const mod = time(() => codec.verify(token, 'access'), n);
    const rawUs = time(raw, n);
    rows.push(`| ${alg} | ${mod.toFixed(2)} | ${rawUs.toFixed(2)} | ${(mod - rawUs).toFixed(2)} |`);
  }
  return rows.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write((await verifierTable()) + '\n');
}
