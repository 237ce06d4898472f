import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuditEmitter } from '../audit/audit.emitter.js';
import { AUTH_OPTIONS } from '../auth.constants.js';
import type { RevocationSettings } from './revocation-settings.js';
import { TokenIssuer } from '../tokens/token-issuer.js';
import { RevocationSync } from './revocation-sync.js';
import { RevocationWriter } from './revocation-writer.js';

/**
 * Reads a token another issuer signed (the trusted issuers' service provides it, under `ISSUED_ELSEWHERE`):
 * undefined when none of those issuers signed it, null when it has expired. Declared here so that revocation/
 * does not depend on issuers/ (which depends on the gate).
 */
export interface IssuedElsewhere {
  verifiedClaims(token: string): Promise<Readonly<Record<string, unknown>> | null | undefined>;
}
export const ISSUED_ELSEWHERE = Symbol('ISSUED_ELSEWHERE');

/** Revoking one token, or every token and session of a user. */
@Injectable()
export class RevocationService {
  constructor(
    private readonly writer: RevocationWriter,
    private readonly sync: RevocationSync,
    private readonly tokens: TokenIssuer,
    private readonly audit: AuditEmitter,
    @Inject(AUTH_OPTIONS) private readonly options: RevocationSettings,
    @Optional() @Inject(ISSUED_ELSEWHERE) private readonly issuers?: IssuedElsewhere,
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
    await this.writer.revokeToken(jti, expiresAt, { userId, reason: 'revoked' });
    this.audit.emit({ type: 'token.revoked', jti, userId, reason: 'revoked' });
  }

  /** Refuses every token of the user issued before now and ends all their sessions, in one write. New logins work. (The caller's own cookies are AuthService's to clear.) */
  async revokeAllForUser(userId: string): Promise<void> {
    if (typeof userId !== 'string' || userId.length === 0) throw new TypeError('revokeAllForUser: userId must be a non-empty string');
    const ended = await this.writer.cutOffUser(userId, new Date(this.options.clock.now()), 'revoke_all');
    for (const sid of ended) this.audit.emit({ type: 'session.ended', userId, sessionId: sid, reason: 'revoke_all' });
    this.audit.emit({ type: 'token.revoked', userId, reason: 'revoke_all' });
  }

  purgeExpired(): Promise<number> {
    return this.sync.purgeExpired(new Date(this.options.clock.now()));
  }
}
