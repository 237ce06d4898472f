// `npm run lint:boundaries`: the folder rules of .dependency-cruiser.cjs over src/, minus the violations recorded
// as known in .dependency-cruiser-known-violations.json (when that file exists).
//
// dependency-cruiser applies its known-violations file (`--ignore-known`) to module rules only, not to rules with
// `scope: 'folder'` (the folder-cycle rule), so this script runs it once with JSON output and applies the same file
// to the folder violations itself, matching a folder violation by rule, from-folder and to-folder (not the cycle's
// path, which changes as other cycles go). `--write-baseline` records today's violations in that file.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CONFIG = '.dependency-cruiser.cjs';
const KNOWN = '.dependency-cruiser-known-violations.json';
const writeBaseline = process.argv.includes('--write-baseline');
// The package exports no path to its CLI; npm links it here.
const bin = join('node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(outputType, known) {
  const args = [bin, 'src', '--config', CONFIG, '--output-type', outputType, ...(known ? ['--ignore-known', KNOWN] : [])];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  // Exit code: the number of errors found; output comes anyway. Anything on stderr without output is a failure to run.
  if (!run.stdout) {
    process.stderr.write(run.stderr);
    process.exit(2);
  }
  return run.stdout;
}

if (writeBaseline) {
  writeFileSync(KNOWN, cruise('baseline', false));
  console.log(`wrote ${KNOWN}`);
  process.exit(0);
}

const haveKnown = existsSync(KNOWN);
const known = haveKnown ? JSON.parse(readFileSync(KNOWN, 'utf8')) : [];
const key = (v) => `${v.rule.name} ${v.from} ${v.to}`;
const knownFolder = new Set(known.filter((v) => v.type === 'cycle' || v.type === 'folder').map(key));
const result = JSON.parse(cruise('json', haveKnown));

const open = [];
let ignored = 0;
for (const v of result.summary.violations) {
  const isFolder = v.type === 'cycle' || v.type === 'folder';
  if (v.rule.severity === 'ignore' || (isFolder && knownFolder.has(key(v)))) ignored++;
  else open.push(v);
}

for (const v of open) {
  const via = v.cycle ? ` (back via ${v.cycle.map((c) => c.name).join(' → ')})` : '';
  console.error(`  ${v.rule.name}: ${v.from} → ${v.to}${via}`);
}
const total = `${result.summary.totalCruised} modules, ${result.summary.totalDependenciesCruised} dependencies`;
if (open.length > 0) {
  console.error(`\n✘ ${open.length} folder boundary violation(s) (${total}); the rules and why: ${CONFIG}`);
  process.exit(1);
}
console.log(`✔ folder boundaries kept (${total}${haveKnown ? `; ${ignored} known violations in ${KNOWN} ignored` : ''})`);
