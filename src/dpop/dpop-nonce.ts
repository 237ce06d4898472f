import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What the server makes of a proof's nonce: `'fresh'` (this slot's, or the next one's within the clock leeway),
 * `'ageing'` (the previous slot's: still accepted, but stale at the end of this slot, so the response carries this
 * slot's nonce), or `'refused'` (none, forged, or older: `use_dpop_nonce`).
 */
export type NonceStanding = 'fresh' | 'ageing' | 'refused';

/**
 * Server-provided nonces (RFC 9449 §8, §9): stateless, so every instance that
 * shares the secret issues and accepts the same ones without a store. A
 * nonce names a time slot and carries an HMAC of it; the current and the
 * previous slot's nonces are accepted, so a nonce lives one to two slots. A
 * client that calls at least once a slot and takes the `DPoP-Nonce` of each
 * answer (sent when its nonce is the previous slot's) is never refused.
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
    return this.of(this.slotOf(nowSeconds));
  }

  /**
   * `leewaySeconds` (the module's clock tolerance): an instance whose clock runs a little behind the one that
   * issued a nonce at the start of a slot still takes it.
   */
  standing(nonce: string | undefined, nowSeconds: number, leewaySeconds: number): NonceStanding {
    if (nonce === undefined) return 'refused';
    const slot = this.slotOf(nowSeconds);
    if (same(nonce, this.of(slot))) return 'fresh';
    if (same(nonce, this.of(slot - 1))) return 'ageing';
    const ahead = this.slotOf(nowSeconds + leewaySeconds);
    return ahead !== slot && same(nonce, this.of(ahead)) ? 'fresh' : 'refused';
  }

  private slotOf(nowSeconds: number): number {
    return Math.floor(nowSeconds / this.slotSeconds);
  }

  private of(slot: number): string {
    const id = Buffer.alloc(6);
    id.writeUIntBE(slot, 0, 6);
    const mac = createHmac('sha256', this.secret).update('nest-auth dpop nonce ').update(id).digest().subarray(0, 16);
    return Buffer.concat([id, mac]).toString('base64url');
  }
}

/** Byte lengths compared first: a proof's nonce of non-ASCII characters may have as many characters but more bytes. */
function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
