import { Inject, Injectable, Optional } from '@nestjs/common';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { AuthContextData } from '../context/auth-context.js';
import type { Credential } from '../credentials/credential.js';
import { AuthError } from '../errors/auth-error.js';
import type { AuthenticationSettings } from './authentication-settings.js';
import { TrustedIssuers } from '../issuers/trusted-issuers.js';
import { RevocationGate } from '../revocation/revocation-gate.js';
import { TokenCodec } from '../tokens/token-codec.js';
import { VerifiedTokenCache, type CachedVerification } from './verified-token-cache.js';

/**
 * Credentials -> the authentication of a call, shared by every guard and the
 * passport strategy: verify (strict verifier, or a token it already passed),
 * then the revocation verdict. In `cached` mode a bearer token is checked
 * without a promise: a few Map look-ups. Throws `AuthError`.
 */
@Injectable()
export class Authenticator {
  private readonly verified: VerifiedTokenCache;
  private readonly maxTokenLength: number;
  /** Set with `trustedIssuers`: a token that is not one the module verified before may be a provider's. */
  private readonly issuers: TrustedIssuers | undefined;

  constructor(
    private readonly codec: TokenCodec,
    private readonly gate: RevocationGate,
    private readonly apiKeys: ApiKeyService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthenticationSettings,
    @Optional() issuers?: TrustedIssuers,
  ) {
    this.maxTokenLength = options.jwt.maxTokenLength;
    // `jwt.verifiedTokenCacheMb` (0: off), on the module's clock, with the verifier's leeway on `exp`.
    this.verified = new VerifiedTokenCache(options.jwt.verifiedTokenCacheMb, options.jwt.clockTolerance, () => options.clock.now() / 1000);
    this.issuers = issuers?.enabled ? issuers : undefined;
  }

  authenticate(credential: Credential): AuthContextData | Promise<AuthContextData> {
    if (credential.kind === 'api_key') return this.apiKeys.authenticate(credential.key);
    if (credential.kind === 'bearer' && credential.dpop !== undefined) {
      // Only a trusted issuer's token can be DPoP-bound (RFC 9449); an app with no DPoP issuer reads no DPoP scheme.
      if (this.issuers === undefined || !this.issuers.acceptsDpop) throw new AuthError('token_missing', 'dpop_scheme_not_accepted');
      return this.issuers.authenticate(credential.token, credential.dpop)!;
    }
    const token = credential.token;
    // One look-up in the own cache (which drops an expired entry); a token the verifier refuses for its length is
    // not worth a digest. Missed there, it may be a provider's.
    const hit = token.length > this.maxTokenLength ? undefined : this.verified.get(token);
    if (hit === undefined && this.issuers !== undefined) {
      const external = this.issuers.authenticate(token);
      if (external !== undefined) return external;
    }
    const verified = hit ?? this.verified.add(token, this.codec.verify(token, 'access', this.options.clock.now() / 1000));
    const verdict = this.gate.check(verified.claims);
    if (verdict === null) return authOf(verified);
    if (typeof verdict === 'string') throw new AuthError(verdict, 'revocation_gate');
    return verdict.then((v) => {
      if (v !== null) throw new AuthError(v, 'revocation_gate');
      return authOf(verified);
    });
  }
}

/** A fresh context per request over the verified claims (frozen when the cache shares them between requests). */
export function authOf(verified: CachedVerification): AuthContextData {
  const claims = verified.claims;
  return {
    userId: claims.sub,
    username: typeof claims.username === 'string' ? claims.username : undefined,
    isStaff: claims.is_staff === true,
    isSuperuser: claims.is_superuser === true,
    permissions: verified.permissions as string[],
    backend: 'jwt',
    claims,
    sessionId: claims.sid,
  };
}
