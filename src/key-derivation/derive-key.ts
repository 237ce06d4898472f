import { createPrivateKey, hkdfSync, KeyObject } from 'node:crypto';

/**
 * Every key the module derives from the JWT signing keys, each under its own label: a key derived for one use
 * (the CSRF HMAC) tells nothing about the signing key nor about the key of another use (the username
 * fingerprints), and a new use cannot collide with an old one by accident. The labels are a closed list on purpose:
 * adding a use means adding its label here.
 */
export const DERIVED_KEY_LABELS = {
  /** The HMAC key of the double-submit CSRF tokens (`cookies.csrf.secret` when not given). */
  csrf: 'csrf v1',
  /**
   * The key of the username and address fingerprints (`loginThrottle.fingerprintKey` when not given): the throttle's
   * counters and the `fp:` of every login audit event, so a throttled name matches its failed logins.
   */
  loginThrottleFingerprint: 'login-throttle fingerprint v2',
} as const;

export type DerivedKeyUse = keyof typeof DERIVED_KEY_LABELS;

/**
 * HKDF-SHA256 (RFC 5869) of `material` (a secret's bytes, or a private key in PKCS#8 DER) with the use's label as
 * `info`: 32 bytes. HKDF rather than one HMAC so a low-entropy-looking input (a PEM's DER has long fixed prefixes)
 * is extracted before it is expanded. No salt: every instance must derive the same key from the same signing key.
 */
export function deriveKey(material: Buffer, use: DerivedKeyUse): Buffer {
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), `@democrai/nest-auth ${DERIVED_KEY_LABELS[use]}`, 32));
}

/** What a JWT key gives to derive from: its secret, or its private key. */
export interface SigningKeySource {
  secret?: unknown;
  privateKey?: unknown;
}

/**
 * The bytes of a signing key to derive from: a secret's bytes, a private key's PKCS#8 DER. Undefined for a key
 * that has neither (verify-only), or that cannot be read (the JWT validation refuses it, naming the option).
 */
export function signingKeyMaterial(source: SigningKeySource | KeyObject | undefined): Buffer | undefined {
  if (source === undefined) return undefined;
  if (source instanceof KeyObject) {
    if (source.type === 'secret') return source.export();
    if (source.type === 'private') return source.export({ type: 'pkcs8', format: 'der' });
    return undefined;
  }
  try {
    const { secret, privateKey } = source;
    if (secret instanceof KeyObject) return signingKeyMaterial(secret);
    if ((typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length > 0) return Buffer.from(secret);
    if (privateKey instanceof KeyObject) return signingKeyMaterial(privateKey);
    if (privateKey !== undefined && privateKey !== null && privateKey !== '') {
      return createPrivateKey(privateKey as Parameters<typeof createPrivateKey>[0]).export({ type: 'pkcs8', format: 'der' });
    }
  } catch {
    // A key the JWT validation refuses anyway: it names the option there.
  }
  return undefined;
}

/** The JWT options' signing keys in ring order (`keys` first, the one that signs at their head; then `secret`/`privateKey`). */
export function signingKeyMaterials(jwt: (SigningKeySource & { keys?: readonly SigningKeySource[] }) | undefined): Buffer[] {
  const out: Buffer[] = [];
  for (const source of [...(jwt?.keys ?? []), ...(jwt ? [jwt] : [])]) {
    const material = signingKeyMaterial(source);
    if (material !== undefined) out.push(material);
  }
  return out;
}
