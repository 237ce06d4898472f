// The vectors in test/vectors/ are public data copied unchanged: every file
// there is listed in its SOURCES.md with the hash it had upstream.
import { describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '../vectors');
const NOT_DATA = new Set(['SOURCES.md', 'LICENSE-Apache-2.0.txt']);

function dataFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return dataFiles(path);
    return NOT_DATA.has(relative(VECTORS, path)) ? [] : [relative(VECTORS, path)];
  });
}

describe('test/vectors', () => {
  test('every data file is in SOURCES.md with its byte count and sha256, and nothing listed is missing', () => {
    const listed = new Map(
      [...readFileSync(join(VECTORS, 'SOURCES.md'), 'utf8').matchAll(/^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$/gm)].map((m) => [
        m[1],
        { bytes: Number(m[2]), sha256: m[3] },
      ]),
    );
    const actual = new Map(
      dataFiles(VECTORS).map((file) => {
        const bytes = readFileSync(join(VECTORS, file));
        return [file, { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }];
      }),
    );
    expect(actual.size).toBeGreaterThan(0);
    expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(listed));
  });
});
