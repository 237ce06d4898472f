import { Argon2PasswordHasher } from '../../src/index.js';

/** A hasher whose checks wait until the test lets them go: the queue can be filled on purpose. */
export class GatedHasher extends Argon2PasswordHasher {
  verifies = 0;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  hold() {
    this.gate = new Promise((r) => (this.open = r));
  }
  release() {
    this.open();
  }
  override async verify(hash: string, plain: string) {
    this.verifies++;
    await this.gate;
    return super.verify(hash, plain);
  }
}
