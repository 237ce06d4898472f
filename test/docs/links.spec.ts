/**
 * Every relative link of README.md and docs/*.md resolves in the published
 * package: its target is a file that package.json `files` ships (npm always
 * adds package.json, README and LICENSE), and its `#anchor`, if any, is a
 * heading of that file. A link to a file the package does not ship (the
 * sample app, the benchmark, the tests) must be an absolute URL or plain text:
 * on npm's page and in node_modules it would point at nothing.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The markdown files whose links are checked. */
function documents(): string[] {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')) : [];
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** Whether package.json `files` (or npm's always-included files) ships `path` (relative to the root, `/`-separated). */
export function shipped(path: string, files: readonly string[]): boolean {
  if (/^(package\.json|readme(\.[^/]*)?|license(\.[^/]*)?|licence(\.[^/]*)?)$/i.test(path)) return true;
  return files.some((entry) => {
    const e = entry.replace(/^\.\//, '').replace(/\/$/, '');
    return path === e || path.startsWith(`${e}/`);
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen; repeats get -1, -2. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The link targets of a markdown text, outside code: inline `[x](target)` and reference definitions `[x]: target`. */
export function linksOf(markdown: string): string[] {
  const links: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(m[1]!);
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose);
    if (definition) links.push(definition[1]!);
  }
  return links;
}

const files = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files;

describe.each(documents())('links of %s', (doc) => {
  const text = readFileSync(join(root, doc), 'utf8');
  const relativeLinks = linksOf(text).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l));

  test('the document itself is shipped', () => {
    expect(shipped(doc, files)).toBe(true);
  });

  test('every relative link names a shipped file, and its anchor a heading of it', () => {
    const broken: string[] = [];
    for (const link of relativeLinks) {
      const [pathPart, anchor] = link.split('#') as [string, string | undefined];
      const target = pathPart === '' ? doc : normalize(join(dirname(doc), decodeURIComponent(pathPart))).replace(/\\/g, '/');
      if (target.startsWith('..') || !existsSync(join(root, target))) {
        broken.push(`${link}: no such file`);
        continue;
      }
      const isDir = statSync(join(root, target)).isDirectory();
      if (!shipped(relative(root, join(root, target)).replace(/\\/g, '/'), files)) {
        broken.push(`${link}: ${target} is not in package.json "files" (ship it, or link to the repository)`);
        continue;
      }
      if (anchor !== undefined && anchor !== '' && !isDir && target.endsWith('.md')) {
        if (!anchorsOf(readFileSync(join(root, target), 'utf8')).has(anchor)) broken.push(`${link}: ${target} has no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('the link checker itself', () => {
  test('anchors as GitHub makes them', () => {
    const anchors = anchorsOf('# A `b` (c)\n## Migrating from passport-local + bcrypt\n```\n# not a heading\n```\n## A `b` (c)\n');
    expect([...anchors]).toEqual(['a-b-c', 'migrating-from-passport-local--bcrypt', 'a-b-c-1']);
  });

  test('links outside code only; files shipped by prefix', () => {
    expect(linksOf('see [x](docs/a.md#b) and `[y](no.md)`\n```\n[z](no.md)\n```\n[r]: ./c.md\n[w](https://e.org)')).toEqual([
      'docs/a.md#b',
      './c.md',
      'https://e.org',
    ]);
    expect(shipped('docs/a.md', ['dist', 'docs'])).toBe(true);
    expect(shipped('sample-app/README.md', ['dist', 'docs'])).toBe(false);
    expect(shipped('LICENSE', ['dist'])).toBe(true);
  });
});
