import { createHash } from 'node:crypto';
import { AuthError } from '../errors/auth-error.js';
import { discoveredEndpoint } from './discovery.js';
import { fetchJson, ProviderReadError } from './fetch-json.js';
import { KEY_READ_COOLDOWN_MS } from './remote-key-set.js';
import type { ResolvedIntrospection, ResolvedTrustedIssuer } from './trusted-issuer.options.js';

/** What the provider said of a token: inactive, or active with its claims (RFC 7662 §2.2). */
export type IntrospectionAnswer = { active: false } | { active: true; claims: Readonly<Record<string, unknown>> };

interface Cached {
  answer: IntrospectionAnswer;
  /** Epoch ms after which the provider is asked again. */
  until: number;
}

/** An answer is a small JSON object: anything larger is not one. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Asks the issuer's introspection endpoint (RFC 7662) about tokens it cannot
 * verify locally (opaque ones), or about every token when configured. The
 * client authenticates with client_secret_basic. Answers are kept, keyed by
 * the token's digest, until the token's `exp` and at most `cacheMaxSeconds`,
 * within `cacheMaxEntries` (the oldest go first); concurrent calls with one
 * token share one request. A provider that cannot answer (down, slow, an
 * error, a malformed answer) is `auth_unavailable`: never an acceptance.
 */
export class Introspector {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<IntrospectionAnswer>>();
  private endpoint: string | undefined;
  private discovering: Promise<string> | undefined;
  private discoveryFailedAt = -Infinity;
  private readonly authorization: string;
  /** The last failure, for the log (never with the token). */
  lastError: string | undefined;

  constructor(
    private readonly issuer: ResolvedTrustedIssuer,
    private readonly settings: ResolvedIntrospection,
    private readonly now: () => number,
  ) {
    this.endpoint = settings.endpoint;
    // RFC 6749 §2.3.1: the client id and secret are form-encoded before the Basic encoding.
    const form = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    this.authorization = `Basic ${Buffer.from(`${form(settings.clientId)}:${form(settings.clientSecret)}`).toString('base64')}`;
  }

  /** The provider's answer, from the cache when it is still good. */
  introspect(token: string): IntrospectionAnswer | Promise<IntrospectionAnswer> {
    const key = createHash('sha256').update(token).digest('base64url');
    const nowMs = this.now();
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (hit.until > nowMs) return hit.answer;
      this.cache.delete(key);
    }
    const running = this.pending.get(key);
    if (running !== undefined) return running;
    const asked = this.ask(token).then((answer) => {
      this.keep(key, answer);
      return answer;
    });
    this.pending.set(key, asked);
    void asked.then(
      () => this.pending.delete(key),
      () => this.pending.delete(key),
    );
    return asked;
  }

  private keep(key: string, answer: IntrospectionAnswer): void {
    const nowMs = this.now();
    let until = nowMs + this.settings.cacheMaxSeconds * 1000;
    if (answer.active) {
      const exp = answer.claims.exp;
      if (typeof exp === 'number') until = Math.min(until, exp * 1000);
    }
    if (until <= nowMs) return;
    while (this.cache.size >= this.settings.cacheMaxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { answer, until });
  }

  private async ask(token: string): Promise<IntrospectionAnswer> {
    const endpoint = await this.endpointUrl();
    let body: Record<string, unknown>;
    try {
      ({ body } = await fetchJson(endpoint, this.issuer.fetchTimeoutMs, MAX_ANSWER_BYTES, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.authorization },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      }));
    } catch (err) {
      this.lastError = err instanceof ProviderReadError ? err.message : `${endpoint}: unreadable`;
      throw new AuthError('auth_unavailable', 'introspection_unavailable');
    }
    this.lastError = undefined;
    // Only the boolean true is active (RFC 7662 §2.2); anything else, "true" included, is not.
    if (body.active !== true) return { active: false };
    return { active: true, claims: Object.freeze(body) };
  }

  /** The configured endpoint, or the discovery document's `introspection_endpoint`, which must be on the issuer's origin. */
  private async endpointUrl(): Promise<string> {
    if (this.endpoint !== undefined) return this.endpoint;
    if (this.discovering) return this.discovering;
    // A failed discovery is not repeated for every token: the cool-down of key reads applies.
    if (this.now() - this.discoveryFailedAt < KEY_READ_COOLDOWN_MS) {
      throw new AuthError('auth_unavailable', 'introspection_endpoint_unknown');
    }
    this.discovering = (async () => {
      try {
        this.endpoint = await discoveredEndpoint(this.issuer, 'introspection_endpoint', 'introspection.endpoint');
        return this.endpoint;
      } catch (err) {
        this.discoveryFailedAt = this.now();
        this.lastError = err instanceof ProviderReadError ? err.message : `${this.issuer.discoveryUrl}: unreadable`;
        throw new AuthError('auth_unavailable', 'introspection_endpoint_unknown');
      } finally {
        this.discovering = undefined;
      }
    })();
    return this.discovering;
  }
}
