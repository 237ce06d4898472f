import { createHmac, randomBytes, type KeyObject } from 'node:crypto';

/**
 * A keyed fingerprint of a username for logs: people type passwords into the
 * username field, so an unknown username is never logged as text. The key is
 * derived from the signing key (instances that share keys give the same
 * fingerprint, so events can be correlated), or random when there is none.
 */
export class UsernameFingerprint {
  private readonly key: Buffer;

  constructor(signingKey: KeyObject | undefined) {
    const material =
      signingKey === undefined
        ? randomBytes(32)
        : signingKey.type === 'secret'
          ? signingKey.export()
          : signingKey.export({ format: 'der', type: 'pkcs8' });
    this.key = createHmac('sha256', material).update('nest-auth username fingerprint v1').digest();
  }

  of(username: unknown): string {
    const text = typeof username === 'string' ? username : String(username);
    return `fp:${createHmac('sha256', this.key).update(text).digest('base64url').slice(0, 16)}`;
  }
}
