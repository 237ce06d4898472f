import type { PasswordHasher } from '../../src/index.js';
import { TestPasswordHasher } from '../../src/testing/index.js';

/**
 * A hasher whose checks wait until the test lets them go: the queue can be filled on purpose, without leaning on
 * how slow a real hash is. Over the kit's fast hasher (what `MemoryUsers.create()` hashes with) unless given another.
 */
export class GatedHasher implements PasswordHasher {
  verifies = 0;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  constructor(private readonly inner: PasswordHasher = new TestPasswordHasher()) {}
  hold() {
    this.gate = new Promise((r) => (this.open = r));
  }
  release() {
    this.open();
  }
  hash(plain: string) {
    return this.inner.hash(plain);
  }
  async verify(hash: string, plain: string) {
    this.verifies++;
    await this.gate;
    return this.inner.verify(hash, plain);
  }
}
