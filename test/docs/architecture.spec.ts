import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * The README's Architecture table and the layers that `npm run lint` enforces (.dependency-cruiser.cjs) name the
 * same folders, and every folder of src/ is in both: a folder added, moved or removed without its description
 * fails here.
 */
const root = join(import.meta.dirname, '..', '..');
const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function readmeFolders(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Architecture\n'), readme.indexOf('**A bearer request.**'));
  const rows = section.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| layer') && !line.startsWith('|---'));
  const named = rows.flatMap((row) => [...row.split('|')[2]!.matchAll(/`([a-z-]+)\/`/g)].map((m) => m[1]!));
  return [...new Set(named)].sort();
}

describe('the Architecture section matches the folders', () => {
  test('every folder of src/ is in the README table, and nothing else', () => {
    expect(readmeFolders()).toEqual(folders);
  });

  test('every folder of src/ is in a layer of the dependency rules', () => {
    const config = readFileSync(join(root, '.dependency-cruiser.cjs'), 'utf8');
    const require = createRequire(import.meta.url);
    const rules = require(join(root, '.dependency-cruiser.cjs')) as { forbidden: Array<{ name: string; from: { path?: string } }> };
    expect(rules.forbidden.some((r) => r.name === 'folder-cycle')).toBe(true);
    const layered = [...config.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]!);
    for (const folder of folders) expect(layered).toContain(folder);
  });
});
