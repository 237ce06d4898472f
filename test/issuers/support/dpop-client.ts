/**
 * A DPoP client (RFC 9449) for the tests: a key pair of its own and proofs
 * signed with node:crypto, with every member overridable so the attack tests
 * can forge exactly one thing wrong.
 */
import type { INestApplication } from '@nestjs/common';
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';

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

export const urlOf = (app: INestApplication) => `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

/** What a test reads of an answer: the status, the body's code, the challenge and the server's nonce. */
export interface Answer {
  status: number;
  code: string | undefined;
  challenge: string | null;
  nonce: string | null;
  cacheControl: string | null;
  body: Record<string, unknown>;
}

/** One real HTTP request with Node's fetch (every header as given, nothing added). */
export async function send(
  url: string,
  init: { method?: string; authorization?: string; dpop?: string; headers?: Record<string, string> },
): Promise<Answer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  if (init.dpop !== undefined) headers.dpop = init.dpop;
  const res = await fetch(url, { method: init.method ?? 'GET', headers });
  const text = await res.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  return {
    status: res.status,
    code: body.code as string | undefined,
    challenge: res.headers.get('www-authenticate'),
    nonce: res.headers.get('dpop-nonce'),
    cacheControl: res.headers.get('cache-control'),
    body,
  };
}
