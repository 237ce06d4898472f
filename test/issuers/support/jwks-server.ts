/**
 * A local identity provider's key-serving side, for the trusted-issuer
 * tests: an HTTP server on 127.0.0.1 (port 0) serving an OIDC discovery
 * document and a JWK Set that the test changes (keys added, rotated,
 * removed) and breaks (500, malformed JSON, a huge body, a slow or hung
 * answer); it counts the reads. Tokens are signed here with jose, an
 * implementation independent of the module's.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactSign } from 'jose';

export type Fault = 'none' | 'status500' | 'malformed' | 'huge' | 'hang' | 'duplicate-member' | 'redirect';

export interface ServedKey {
  kid: string | undefined;
  alg: string;
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

export class JwksServer {
  private server: http.Server | undefined;
  private readonly keys: ServedKey[] = [];
  private readonly sockets = new Set<import('node:net').Socket>();
  fault: Fault = 'none';
  /** Sent as Cache-Control on the key set; undefined sends none. */
  cacheControl: string | undefined = undefined;
  /** Overrides of the discovery document (issuer, jwks_uri). */
  discovery: Record<string, unknown> = {};
  /** The JWK members to leave out of each served key (Entra ID's keys have no `alg`). */
  omit: string[] = [];
  reads = { discovery: 0, jwks: 0 };
  origin = '';
  /** The origin clients use when it is not this server's (a TcpProxy in front): issuer and jwks_uri name it. */
  publicOrigin: string | undefined;

  /** `path`: the issuer's path on this server ('' for the origin itself, '/realms/test' for a Keycloak-like issuer). */
  constructor(private readonly path = '') {}

  get issuer(): string {
    return `${this.publicOrigin ?? this.origin}${this.path}`;
  }

  get jwksUri(): string {
    return `${this.publicOrigin ?? this.origin}${this.base}/keys`;
  }

  /** The issuer's path without a terminating "/" (Auth0's issuers end with one), as discovery appends to it. */
  private get base(): string {
    return this.path.replace(/\/$/, '');
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A new key served from now on; the first key added signs by default. */
  addKey(alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA' | 'ES384' = 'RS256', kid: string | undefined = `k-${this.keys.length + 1}-${alg}`): ServedKey {
    const pair =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'ES384'
          ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
          : alg === 'EdDSA'
            ? generateKeyPairSync('ed25519')
            : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicJwk = { ...pair.publicKey.export({ format: 'jwk' }), ...(kid ? { kid } : {}), alg, use: 'sig' };
    const key = { kid, alg, privateKey: pair.privateKey, publicJwk };
    this.keys.push(key);
    return key;
  }

  removeKey(key: ServedKey): void {
    this.keys.splice(this.keys.indexOf(key), 1);
  }

  get served(): readonly ServedKey[] {
    return this.keys;
  }

  /** Signs `claims` with `key` (default: the first served key) and the given header members. */
  async sign(claims: Record<string, unknown>, key: ServedKey = this.keys[0]!, header: Record<string, unknown> = {}): Promise<string> {
    const protectedHeader = { alg: key.alg, typ: 'at+jwt', ...(key.kid ? { kid: key.kid } : {}), ...header };
    for (const [name, value] of Object.entries(protectedHeader)) if (value === undefined) delete (protectedHeader as Record<string, unknown>)[name];
    return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(protectedHeader as never).sign(key.privateKey);
  }

  /** Claims of a valid access token of this issuer for `audience`. */
  claims(audience: string | string[], extra: Record<string, unknown> = {}, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> {
    return { iss: this.issuer, sub: 'user-1', aud: audience, iat: nowSeconds, exp: nowSeconds + 300, jti: `jti-${Math.random()}`, ...extra };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    if (url === `${this.base}/.well-known/openid-configuration`) {
      this.reads.discovery++;
      return this.answer(res, JSON.stringify({ issuer: this.issuer, jwks_uri: this.jwksUri, ...this.discovery }));
    }
    if (url === `${this.base}/keys`) {
      this.reads.jwks++;
      const keys = this.keys.map((k) => Object.fromEntries(Object.entries(k.publicJwk).filter(([name]) => !this.omit.includes(name))));
      return this.answer(res, JSON.stringify({ keys }), this.cacheControl);
    }
    res.writeHead(404).end();
  }

  private answer(res: http.ServerResponse, body: string, cacheControl?: string): void {
    switch (this.fault) {
      case 'status500':
        return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
      case 'malformed':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(body.slice(0, body.length / 2));
      case 'duplicate-member':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(`{"keys":[],${body.slice(1)}`);
      case 'redirect':
        return void res.writeHead(302, { location: 'http://127.0.0.2:9/keys' }).end();
      case 'hang':
        // Headers and nothing else, ever: the module's deadline must cut it.
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.write('{"keys":[');
      case 'huge': {
        // No content-length: the bound must hold while the body streams.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const push = () => {
          while (sent < 64 && res.write(chunk)) sent++;
          if (sent < 64) res.once('drain', push);
          else res.end('{}');
        };
        return push();
      }
      default:
        res.writeHead(200, { 'content-type': 'application/json', ...(cacheControl ? { 'cache-control': cacheControl } : {}) });
        res.end(body);
    }
  }
}
