/**
 * A DPoP client (RFC 9449) for the tests: a key pair of its own and proofs
 * signed with node:crypto, with every member overridable so the attack tests
 * can forge exactly one thing wrong.
 */
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface ProofOptions {
  htm: string;
  htu: string;
  /** The access token the proof accompanies: `ath` is its hash. */
  token?: string;
  nonce?: string;
  iat?: number;
  jti?: string;
  /** Replaces or adds header members (`undefined` removes one). */
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  /** 'none': no signature; 'HS256': an HMAC with the thumbprint as secret (an attacker's guess). */
  signAs?: 'none' | 'HS256';
}

export class DpopClient {
  readonly publicJwk: Record<string, unknown>;
  readonly privateJwk: Record<string, unknown>;
  private readonly privateKey: KeyObject;

  constructor(readonly alg: 'ES256' | 'RS256' = 'ES256') {
    const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicJwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    this.privateJwk = pair.privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  }

  /** RFC 7638. */
  get thumbprint(): string {
    const k = this.publicJwk;
    const members = k.kty === 'EC' ? { crv: k.crv, kty: k.kty, x: k.x, y: k.y } : { e: k.e, kty: k.kty, n: k.n };
    return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
  }

  proof(o: ProofOptions): string {
    const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: this.alg, jwk: this.publicJwk };
    for (const [k, v] of Object.entries(o.header ?? {}))
      if (v === undefined) delete header[k];
      else header[k] = v;
    if (o.signAs) header.alg = o.signAs;
    const payload: Record<string, unknown> = {
      jti: o.jti ?? randomUUID(),
      htm: o.htm,
      htu: o.htu,
      iat: o.iat ?? Math.floor(Date.now() / 1000),
      ...(o.token !== undefined ? { ath: createHash('sha256').update(o.token).digest('base64url') } : {}),
      ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
    };
    for (const [k, v] of Object.entries(o.payload ?? {}))
      if (v === undefined) delete payload[k];
      else payload[k] = v;
    const input = `${b64(header)}.${b64(payload)}`;
    if (o.signAs === 'none') return `${input}.`;
    if (o.signAs === 'HS256') return `${input}.${createHmac('sha256', this.thumbprint).update(input).digest('base64url')}`;
    const signature =
      this.alg === 'ES256'
        ? sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', Buffer.from(input), this.privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }

  /** The proof the token endpoint needs (htm POST, htu the endpoint). */
  forTokenEndpoint(): (htu: string) => string {
    return (htu) => this.proof({ htm: 'POST', htu });
  }
}
