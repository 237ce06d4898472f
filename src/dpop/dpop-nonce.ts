import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Server-provided nonces (RFC 9449 §8): stateless, so every instance that
 * shares the secret issues and accepts the same ones without a store. A
 * nonce names a time slot and carries an HMAC of it; the current and the
 * previous slot's nonces are accepted, so a nonce lives one to two slots.
 */
export class DpopNonces {
  private readonly secret: Buffer;

  constructor(
    secret: string | Buffer,
    private readonly slotSeconds: number,
  ) {
    this.secret = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  }

  /** The nonce of the current slot: the value of the `DPoP-Nonce` header. */
  current(nowSeconds: number): string {
    return this.of(Math.floor(nowSeconds / this.slotSeconds));
  }

  accepts(nonce: string | undefined, nowSeconds: number): boolean {
    if (nonce === undefined) return false;
    const slot = Math.floor(nowSeconds / this.slotSeconds);
    return same(nonce, this.of(slot)) || same(nonce, this.of(slot - 1));
  }

  private of(slot: number): string {
    const id = Buffer.alloc(6);
    id.writeUIntBE(slot, 0, 6);
    const mac = createHmac('sha256', this.secret).update('nest-auth dpop nonce ').update(id).digest().subarray(0, 16);
    return Buffer.concat([id, mac]).toString('base64url');
  }
}

function same(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
