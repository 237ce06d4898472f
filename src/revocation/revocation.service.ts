import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import { TrustedIssuers } from '../issuers/trusted-issuers.js';
import type { ResolvedAuthOptions } from '../options/auth-options.js';
import { SessionService } from '../sessions/session.service.js';
import { TokenIssuer } from '../tokens/token-issuer.js';
import { RevocationGate } from './revocation-gate.js';

/** Revoking one token, or every token and session of a user. */
@Injectable()
export class RevocationService {
  constructor(
    private readonly gate: RevocationGate,
    private readonly tokens: TokenIssuer,
    private readonly sessions: SessionService,
    private readonly audit: AuditEmitter,
    @Inject(AUTH_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Optional() private readonly issuers?: TrustedIssuers,
  ) {}

  /** One token, given as the token itself (access or refresh) or as its `jti`. */
  async revokeToken(tokenOrJti: string): Promise<void> {
    if (typeof tokenOrJti !== 'string' || tokenOrJti.length === 0) throw new TypeError('revokeToken: a token or a jti is required');
    let jti = tokenOrJti;
    let expiresAt = new Date(this.options.clock.now() + this.options.jwt.maxTokenLifetime * 1000);
    let userId: string | undefined;
    if (tokenOrJti.split('.').length === 3) {
      // A trusted issuer's token is checked with its issuer's keys; any other with the app's.
      const external = await this.issuers?.verifiedClaims(tokenOrJti);
      const claims = external !== undefined ? external : this.tokens.verifyAnyKind(tokenOrJti);
      if (claims === null) return; // expired: nothing left to refuse
      if (typeof claims.jti !== 'string') throw new TypeError('revokeToken: this token has no jti; revokeAllForUser(sub) cuts off its subject');
      jti = claims.jti;
      expiresAt = new Date((claims.exp as number) * 1000);
      userId = claims.sub as string;
    }
    await this.gate.revokeJti(jti, expiresAt, { userId, reason: 'revoked' });
    this.audit.emit({ type: 'token.revoked', jti, userId, reason: 'revoked' });
  }

  /** Refuses every token of the user issued before now and ends all their sessions. New logins work. (The caller's own cookies are AuthService's to clear.) */
  async revokeAllForUser(userId: string): Promise<void> {
    if (typeof userId !== 'string' || userId.length === 0) throw new TypeError('revokeAllForUser: userId must be a non-empty string');
    await this.gate.cutOffUser(userId, new Date(this.options.clock.now()));
    await this.sessions.endAllForUser(userId, 'revoke_all');
    this.audit.emit({ type: 'token.revoked', userId, reason: 'revoke_all' });
  }

  purgeExpired(): Promise<number> {
    return this.gate.purgeExpired(new Date(this.options.clock.now()));
  }
}
