/**
 * The core never imports src/transports/, the folder of the optional
 * `/transports` subpath: the per-call object, the transport table and the
 * mappers live in src/call/, which imports nothing above src/errors/. So an
 * app that installs none of the realtime packages loads the core, and the
 * folders keep one direction (#24).
 */
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The folders (under src/) a file imports from, by its relative import specifiers. */
function importedFolders(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const folders: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(src, join(dirname(file), match[1]));
    folders.push(target.includes('/') ? target.split('/')[0] : '.');
  }
  return folders;
}

describe('folder boundaries of the per-call object', () => {
  test('nothing outside src/transports/ imports it', () => {
    const offenders = sources(src)
      .filter((f) => !relative(src, f).startsWith('transports/'))
      .filter((f) => importedFolders(f).includes('transports'))
      .map((f) => relative(src, f));
    expect(offenders).toEqual([]);
  });

  test('src/call/ imports only itself and src/errors/', () => {
    const outside = sources(join(src, 'call')).flatMap((f) =>
      importedFolders(f)
        .filter((folder) => folder !== 'call' && folder !== 'errors')
        .map((folder) => `${relative(src, f)} -> ${folder}`),
    );
    expect(outside).toEqual([]);
  });
});
