/**
 * Every entry point of the exports map loads by package name from CommonJS (require) and from ESM (import), with
 * the same exports: Node resolves a package's own name from inside it through its "exports", as it does for an app.
 * Fast and offline, so it runs in every `npm test`; the consumer-app suites beside it check the same from the packed
 * tarball in real apps.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './support/consumer.js';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
const ENTRIES = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`));

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

/** The export names an entry gives, loaded in a fresh node: `require` (CommonJS) or `import` (ESM). */
function exportsOf(entry: string, how: 'require' | 'import'): string[] {
  const code =
    how === 'require'
      ? `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(entry)})).sort()))`
      : `const m = await import(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(m).sort()))`;
  const args = how === 'require' ? ['-e', code] : ['--input-type=module', '-e', code];
  const out = execFileSync(process.execPath, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out.trim().split('\n').pop()!) as string[];
}

describe('the exports map: every entry point from CommonJS and from ESM', () => {
  beforeAll(() => {
    // What an app loads is dist/: build it when the sources are newer (CI has built it already).
    if (!existsSync(join(repoRoot, 'dist/index.js')) || newest(join(repoRoot, 'src')) > statSync(join(repoRoot, 'dist/index.js')).mtimeMs) {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'pipe' });
    }
  }, 180_000);

  test('the entries are the documented four', () => {
    expect(ENTRIES).toEqual([pkg.name, `${pkg.name}/testing`, `${pkg.name}/swagger`, `${pkg.name}/transports`]);
  });

  test.each(ENTRIES)('%s: require() and import give the same exports', (entry) => {
    const esm = exportsOf(entry, 'import');
    expect(esm.length).toBeGreaterThan(0);
    expect(exportsOf(entry, 'require')).toEqual(esm);
  });
});
