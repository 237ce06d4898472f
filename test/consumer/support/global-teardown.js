import { rmSync } from 'node:fs';

export default function globalTeardown() {
  if (process.env.AUTH_TEST_TARBALL_DIR && process.env.AUTH_TEST_KEEP !== '1')
    rmSync(process.env.AUTH_TEST_TARBALL_DIR, { recursive: true, force: true });
}
