// Packs the package once for every consumer suite of this run (the suites read AUTH_TEST_TARBALL).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function globalSetup() {
  if (process.env.AUTH_TEST_CONSUMER !== '1') return;
  const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = mkdtempSync(join(tmpdir(), 'nest-auth-consumer-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // prepack's build writes its lines to stdout before npm's JSON array.
  const [{ filename }] = JSON.parse(out.slice(out.startsWith('[') ? 0 : out.indexOf('\n[') + 1));
  process.env.AUTH_TEST_TARBALL = join(dir, filename);
  process.env.AUTH_TEST_TARBALL_DIR = dir;
}
