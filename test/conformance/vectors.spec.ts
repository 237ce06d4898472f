// Conformance of the signature layer and the key import on public test
// material nobody on the team wrote: Wycheproof's JWS and JWK vectors,
// RFC 7515 Appendix A and the RFC 7520 / RFC 8037 cookbook.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyCompactJws } from '../../src/tokens/jws.js';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { VerifiedTokenCache } from '../../src/authentication/verified-token-cache.js';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../vectors');
const read = (path: string) => readFileSync(join(VECTORS, path), 'utf8');
const MAX = 65536;

/**
 * Vectors whose expected verdict is wrong in the data itself (the catalogue,
 * shared/security/jwt-attacks.md §1, and shared/vectors/SOURCES.md; the files are in test/vectors/):
 */
const EXCLUDED: Record<number, string> = {
  346: 'key labelled PS256 but the token is PS384: with each key bound to one algorithm, refusing it is right',
  350: 'key labelled PS256 but the token is PS384 (the same data bug as 346)',
  367: 'marked invalid but byte-identical to the valid tcId 357',
  370: 'marked invalid but byte-identical to the valid tcId 357',
  372: "marked valid but contains '?', outside base64url: refusing it is right",
  373: "marked valid but contains '?', outside base64url: refusing it is right",
};

/** Wycheproof and RFC 7520 write P-521's algorithm as "ES521"; RFC 7518 names it ES512. */
const withJoseAlg = (jwk: Record<string, unknown>) => (jwk.alg === 'ES521' ? { ...jwk, alg: 'ES512' } : jwk);

function verdict(jws: unknown, keys: () => KeyRing): 'valid' | 'invalid' {
  try {
    verifyCompactJws(jws as string, keys(), MAX);
    return 'valid';
  } catch {
    return 'invalid';
  }
}

interface WycheproofTest {
  tcId: number;
  jws: unknown;
  result: 'valid' | 'invalid';
  comment: string;
}
interface WycheproofGroup {
  comment: string;
  private: Record<string, unknown>;
  public?: Record<string, unknown>;
  tests: WycheproofTest[];
}

function runFile(file: string, ringOf: (group: WycheproofGroup) => KeyRing) {
  const data = JSON.parse(read(file)) as { testGroups: WycheproofGroup[] };
  const outcomes = data.testGroups.flatMap((group) =>
    group.tests.map((t) => ({
      tcId: t.tcId,
      expected: t.result,
      actual: verdict(t.jws, () => ringOf(group)),
      comment: `${group.comment}/${t.comment}`,
    })),
  );
  const counted = outcomes.filter((o) => EXCLUDED[o.tcId] === undefined);
  const matched = counted.filter((o) => o.actual === o.expected).length;
  process.stdout.write(
    `${file}: expected verdicts matched ${matched} / ${counted.length} (excluded ${outcomes.length - counted.length} of ${outcomes.length})\n`,
  );
  return counted.filter((o) => o.actual !== o.expected);
}

describe('Wycheproof', () => {
  test('json_web_signature_test.json: every non-excluded vector gets its expected verdict', () => {
    const mismatches = runFile('wycheproof/json_web_signature_test.json', (group) => {
      const jwk = withJoseAlg(group.public ?? group.private);
      return KeyRing.fromJwks({ keys: [jwk] });
    });
    expect(mismatches).toEqual([]);
  });

  test('json_web_key_test.json: key sets through the key-ring import', () => {
    const mismatches = runFile('wycheproof/json_web_key_test.json', (group) => {
      const set = (group.public ?? group.private) as { keys: Record<string, unknown>[] };
      return KeyRing.fromJwks({ keys: set.keys.map(withJoseAlg) });
    });
    expect(mismatches).toEqual([]);
  });
});

/**
 * The same vectors with the guard's verified-token cache in front of the verifier, warm: per key set
 * (one cache per verifier, as in the guard), every vector expected valid is verified and cached first,
 * then every vector of the group goes through cache-then-verifier. The verdicts must not change: a
 * cached entry is never found for a token that differs in any byte (the invalid vectors are mostly
 * one-byte changes of the valid ones).
 */
describe('Wycheproof, verified-token cache warm', () => {
  const claims = { sub: 'w', jti: 'w', iat: 0, exp: 4_000_000_000 };
  test('json_web_signature_test.json: the same verdicts, the valid vectors served from the cache', () => {
    const data = JSON.parse(read('wycheproof/json_web_signature_test.json')) as { testGroups: WycheproofGroup[] };
    const mismatches: unknown[] = [];
    let hits = 0;
    for (const group of data.testGroups) {
      let ring: KeyRing;
      try {
        ring = KeyRing.fromJwks({ keys: [withJoseAlg(group.public ?? group.private)] });
      } catch {
        continue;
      }
      const cache = new VerifiedTokenCache(1);
      const cached = (jws: unknown): 'valid' | 'invalid' => {
        if (typeof jws === 'string' && cache.get(jws) !== undefined) {
          hits++;
          return 'valid';
        }
        const v = verdict(jws, () => ring);
        if (v === 'valid') cache.add(jws as string, { ...claims });
        return v;
      };
      const counted = group.tests.filter((t) => EXCLUDED[t.tcId] === undefined);
      for (const t of counted) if (t.result === 'valid') cached(t.jws);
      for (const t of counted) {
        const actual = cached(t.jws);
        if (actual !== t.result) mismatches.push({ tcId: t.tcId, expected: t.result, actual });
      }
    }
    expect(mismatches).toEqual([]);
    expect(hits).toBeGreaterThan(0);
  });
});

describe('RFC 7515 Appendix A', () => {
  test.each([
    ['A.1', 'HS256'],
    ['A.2', 'RS256'],
    ['A.3', 'ES256'],
    ['A.4', 'ES512'],
  ])('%s (%s) verifies', (name, alg) => {
    const jwk = { ...JSON.parse(read(`rfc7515/rfc7515_${name}.jwk`)), alg };
    const { payload } = verifyCompactJws(read(`rfc7515/rfc7515_${name}.jwsc`).trim(), KeyRing.fromJwks({ keys: [jwk] }), MAX);
    expect(payload.length).toBeGreaterThan(0);
  });

  test('A.1 is also a JWT (RFC 7519 §3.1) whose exp predates 2011-03-22: at a fixed clock before it, its claims are those of the RFC', () => {
    const jwk = { ...JSON.parse(read('rfc7515/rfc7515_A.1.jwk')), alg: 'HS256' };
    const { payload } = verifyCompactJws(read('rfc7515/rfc7515_A.1.jwsc').trim(), KeyRing.fromJwks({ keys: [jwk] }), MAX);
    const claims = JSON.parse(Buffer.from(payload, 'latin1').toString('utf8'));
    expect(claims).toEqual({ iss: 'joe', exp: 1300819380, 'http://example.com/is_root': true });
    expect(1300819379 < claims.exp).toBe(true);
  });

  test('A.5 (alg none) is refused', () => {
    const ring = KeyRing.fromJwks({ keys: [{ ...JSON.parse(read('rfc7515/rfc7515_A.1.jwk')), alg: 'HS256' }] });
    expect(verdict(read('rfc7515/rfc7515_A.5.jwsc').trim(), () => ring)).toBe('invalid');
  });

  test('A.6/A.7 (JSON serializations) are refused by a compact-only verifier', () => {
    const ring = KeyRing.fromJwks({ keys: [{ ...JSON.parse(read('rfc7515/rfc7515_A.3.jwk')), alg: 'ES256' }] });
    expect(verdict(read('rfc7515/rfc7515_A.7.jwsf'), () => ring)).toBe('invalid');
    expect(verdict(read('rfc7515/rfc7515_A.6.jwsg'), () => ring)).toBe('invalid');
  });
});

describe('RFC 7520 (JOSE cookbook) and RFC 8037 (EdDSA)', () => {
  test.each([
    'jws/4_1.rsa_v15_signature.json',
    'jws/4_2.rsa-pss_signature.json',
    'jws/4_3.ecdsa_signature.json',
    'jws/4_4.hmac-sha2_integrity_protection.json',
    'curve25519/jws.json',
  ])('%s: the compact serialization verifies', (file) => {
    const example = JSON.parse(read(`cookbook/${file}`));
    const alg = example.input.alg === 'ES521' ? 'ES512' : example.input.alg;
    const ring = KeyRing.fromJwks({ keys: [{ ...example.input.key, alg }] });
    const { payload } = verifyCompactJws(example.output.compact, ring, MAX);
    expect(Buffer.from(payload, 'latin1').toString('utf8')).toBe(example.input.payload);
  });
});
