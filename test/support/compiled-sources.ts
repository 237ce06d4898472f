import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function sourcesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourcesOf(join(dir, e.name))
      : (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) || e.name.endsWith('.js')
        ? [join(dir, e.name)]
        : [],
  );
}

/**
 * The module's sources (src/) compiled to JavaScript, for specs that run them in child processes of their own
 * (a fresh process is the only way to see what a first call does). Each file is transpiled on its own, as
 * ts-jest does with `isolatedModules`; the folder is keyed by the sources' content, so parallel Jest workers
 * share one and an edit gives a new one. Returns the folder that holds `index.js`.
 */
export function compiledSources(): string {
  const files = sourcesOf(join(root, 'src')).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  const digest = hash.digest('hex').slice(0, 16);
  const cache = join(root, 'node_modules/.cache/nest-auth-compiled');
  const dir = join(cache, digest);
  if (existsSync(join(dir, 'index.js'))) return dir;
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  // A lone file cannot tell NodeNext which format it is (that comes from package.json): say ES modules.
  const compilerOptions = {
    ...options,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    noEmit: false,
    declaration: false,
    sourceMap: false,
    inlineSourceMap: false,
  };
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const file of files) {
    // JavaScript in src/ (the hash worker, loaded by URL) is copied as it is, as the build does.
    if (file.endsWith('.js')) {
      const target = join(tmp, relative(join(root, 'src'), file));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, readFileSync(file));
      continue;
    }
    const out = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
    const target = join(tmp, relative(join(root, 'src'), file).replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out.outputText);
  }
  // Inside node_modules no package.json of ours applies: say these files are ES modules.
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ type: 'module' }));
  try {
    renameSync(tmp, dir);
  } catch {
    // Another worker got there first with the same sources.
    rmSync(tmp, { recursive: true, force: true });
  }
  // Earlier sources' builds (an hour old: not a parallel run's) go, so edits do not pile them up.
  for (const entry of readdirSync(cache)) {
    const path = join(cache, entry);
    try {
      if (entry !== digest && Date.now() - statSync(path).mtimeMs > 3_600_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed by another worker meanwhile.
    }
  }
  return dir;
}
