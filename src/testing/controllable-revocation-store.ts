import { InMemoryRevocationStore } from '../revocation/in-memory-revocation.store.js';

type Mode = { kind: 'ok' } | { kind: 'fail'; error: Error } | { kind: 'hang' };

/**
 * The in-memory revocation store with a switch: `fail()` makes every call
 * reject, `hang()` makes every call wait until `recover()` (so a test can prove
 * the module's bound on a hanging store), `recover()` restores it. Calls that
 * hung settle, with the normal answer, when the store recovers.
 */
export class ControllableRevocationStore extends InMemoryRevocationStore {
  private mode: Mode = { kind: 'ok' };
  private readonly waiting: Array<() => void> = [];
  /** How many calls the module made, by method. */
  readonly calls = { revoke: 0, isRevoked: 0, purgeExpired: 0, revokedSince: 0 };

  fail(error: Error = new Error('revocation store unavailable (test)')): this {
    this.mode = { kind: 'fail', error };
    return this;
  }

  hang(): this {
    this.mode = { kind: 'hang' };
    return this;
  }

  recover(): this {
    this.mode = { kind: 'ok' };
    for (const release of this.waiting.splice(0)) release();
    return this;
  }

  get state(): 'ok' | 'failing' | 'hanging' {
    return this.mode.kind === 'ok' ? 'ok' : this.mode.kind === 'fail' ? 'failing' : 'hanging';
  }

  override async revoke(jti: string, expiresAt: Date): Promise<void> {
    this.calls.revoke++;
    await this.gate();
    return super.revoke(jti, expiresAt);
  }

  override async isRevoked(jti: string): Promise<boolean> {
    this.calls.isRevoked++;
    await this.gate();
    return super.isRevoked(jti);
  }

  override async purgeExpired(now?: Date): Promise<number> {
    this.calls.purgeExpired++;
    await this.gate();
    return super.purgeExpired(now);
  }

  override async revokedSince(since: Date): Promise<Array<{ jti: string; expiresAt: Date; revokedAt: Date }>> {
    this.calls.revokedSince++;
    await this.gate();
    return super.revokedSince(since);
  }

  private gate(): Promise<void> {
    const mode = this.mode;
    if (mode.kind === 'fail') return Promise.reject(mode.error);
    if (mode.kind === 'hang') return new Promise((resolve) => this.waiting.push(resolve));
    return Promise.resolve();
  }
}
