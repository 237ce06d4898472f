/**
 * A real OpenID Provider on loopback for the trusted-issuer tests: panva's
 * `oidc-provider` (a certified implementation), issuing JWT access tokens
 * (RFC 9068) for a resource indicator (RFC 8707) through the
 * client_credentials grant. Its signing keys rotate by swapping in a
 * provider built on a new key set behind the same server and issuer.
 */
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type ProviderType from 'oidc-provider';

/** Loaded once, with its start-up warnings (a Node 22 recommendation, the development store) kept out of the test output. */
let ProviderClass: typeof ProviderType | undefined;
async function loadProvider(): Promise<typeof ProviderType> {
  if (ProviderClass) return ProviderClass;
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    ProviderClass = (await import('oidc-provider')).default;
  } finally {
    console.warn = warn;
  }
  return ProviderClass;
}

export const RESOURCE = 'https://api.example.test';
/** A resource whose access tokens are opaque (the API must introspect them, RFC 7662). */
export const OPAQUE_RESOURCE = 'https://opaque.example.test';
const CLIENT_ID = 'reporting-service';
const CLIENT_SECRET = 'a-client-secret-of-the-test-provider-0123456789';
/** The API itself, as a client of the provider: it authenticates to the introspection endpoint. */
export const INTROSPECTOR = { clientId: 'articles-api', clientSecret: 'the-api-introspection-secret-0123456789abcdef' };

export interface ProviderKey {
  kid: string;
  jwk: Record<string, unknown>;
}

export class TestOpenIdProvider {
  private server: http.Server | undefined;
  private handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  private readonly sockets = new Set<Socket>();
  issuer = '';
  keys: ProviderKey[] = [];
  /** Requests per path (the introspection tests count the provider's work). */
  readonly hits = new Map<string, number>();

  /** A new private signing key (ES256 or RS256), not served until `useKeys`. */
  static newKey(alg: 'ES256' | 'RS256', kid: string): ProviderKey {
    const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { kid, jwk: { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
  }

  async start(keys: ProviderKey[]): Promise<this> {
    this.server = http.createServer((req, res) => this.handler!(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    await this.useKeys(keys);
    return this;
  }

  /** The provider signs with the first key and publishes all of them from now on (same issuer, same clients). */
  async useKeys(keys: ProviderKey[]): Promise<void> {
    const Provider = await loadProvider();
    this.keys = keys;
    const scopes = 'articles:read articles:write';
    // Its development-store warning, once per provider: not the test's business.
    const warn = console.warn;
    console.warn = () => undefined;
    const provider = new Provider(this.issuer, {
      ttl: { ClientCredentials: 3600 },
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          scope: scopes,
          id_token_signed_response_alg: String(keys[0]!.jwk.alg),
        },
        {
          client_id: INTROSPECTOR.clientId,
          client_secret: INTROSPECTOR.clientSecret,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: String(keys[0]!.jwk.alg),
        },
      ],
      jwks: { keys: keys.map((k) => k.jwk) } as never,
      scopes: scopes.split(' '),
      enabledJWA: { dPoPSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // A token requested with a DPoP proof is bound to its key (cnf.jkt); one without stays a bearer token.
        dPoP: { enabled: true },
        introspection: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => ({
            scope: scopes,
            audience: resource,
            // An hour: the tests move their clock past the key set's 10 minutes.
            accessTokenTTL: 3600,
            ...(resource === OPAQUE_RESOURCE
              ? { accessTokenFormat: 'opaque' }
              : { accessTokenFormat: 'jwt', jwt: { sign: { alg: String(keys[0]!.jwk.alg) } } }),
          }),
        },
      },
    } as never);
    const callback = provider.callback();
    console.warn = warn;
    this.handler = (req, res) => {
      const path = new URL(req.url ?? '/', this.issuer).pathname;
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      void callback(req, res);
    };
  }

  /** An access token for the resource, by the client_credentials grant (client_secret_basic). */
  async accessToken(scope = 'articles:read', options: { dpopProof?: (htu: string) => string; resource?: string } = {}): Promise<string> {
    const url = `${this.issuer}/token`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        ...(options.dpopProof ? { dpop: options.dpopProof(url) } : {}),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: options.resource ?? RESOURCE, scope }).toString(),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!body.access_token) throw new Error(`token endpoint: ${res.status} ${body.error} ${body.error_description}`);
    return body.access_token;
  }

  /** Revokes a token at the provider (RFC 7009), as its client. */
  async revoke(token: string): Promise<void> {
    const res = await fetch(`${this.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }).toString(),
    });
    if (res.status !== 200) throw new Error(`revocation endpoint: ${res.status}`);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export const OP_CLIENT_ID = CLIENT_ID;
