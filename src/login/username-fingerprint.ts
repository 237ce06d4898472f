import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { deriveKey, signingKeyMaterial } from '../key-derivation/derive-key.js';

/**
 * A keyed fingerprint of a username for logs: people type passwords into the
 * username field, so an unknown username is never logged as text. The key is
 * derived from the signing key (instances that share keys give the same
 * fingerprint, so events can be correlated), or random when there is none.
 */
export class UsernameFingerprint {
  private readonly key: Buffer;

  constructor(signingKey: KeyObject | undefined) {
    const material = signingKeyMaterial(signingKey);
    this.key = material === undefined ? randomBytes(32) : deriveKey(material, 'usernameFingerprint');
  }

  of(username: unknown): string {
    const text = typeof username === 'string' ? username : String(username);
    return `fp:${createHmac('sha256', this.key).update(text).digest('base64url').slice(0, 16)}`;
  }
}
