/**
 * ROCA (CVE-2017-15361): RSA keys made by a flawed library (Infineon
 * RSALib) whose private key can be factored from the public modulus. Their
 * modulus N has a fingerprint: for every small prime p below, N mod p lies in
 * the subgroup that 65537 generates modulo p. A sound random modulus passes
 * all 38 tests with negligible probability. (Nemec et al., CCS 2017.)
 */
const PRIMES = [
  3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151,
  157, 163, 167,
];

const SUBGROUPS: ReadonlyArray<ReadonlySet<number>> = PRIMES.map((p) => {
  const members = new Set<number>();
  for (let x = 1; !members.has(x); x = (x * (65537 % p)) % p) members.add(x);
  return members;
});

export function hasRocaFingerprint(modulus: bigint): boolean {
  return PRIMES.every((p, i) => SUBGROUPS[i].has(Number(modulus % BigInt(p))));
}
