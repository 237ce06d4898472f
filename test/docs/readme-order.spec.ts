/**
 * The README in a newcomer's order: what it is and how to try it, then the
 * first app, then guides per task, then the reference, then the background
 * (security and performance as summaries, their details in docs/). Sections
 * this list does not name may go anywhere: a new one is placed by its author,
 * and only the order of these landmarks is held.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

const GROUPS: Array<[string, string[]]> = [
  [
    'start',
    ['Compared with the NestJS docs recipe', 'Try it in two commands', 'Install', 'Quick start (five minutes)', 'Fastify', 'Testing your app'],
  ],
  [
    'guides',
    [
      'Sessions, refresh and logout',
      'Login protection',
      'API keys',
      'Browser apps',
      'Transports',
      'OpenAPI (Swagger)',
      'Migrating from passport-jwt',
    ],
  ],
  ['reference', ['Options', 'Decorators', 'Errors', 'AuthService', 'Audit events']],
  ['background', ['Security', 'Performance']],
];

/** `## ` headings outside code, with the line each starts on and how many lines it runs. */
function sections(markdown: string): Array<{ title: string; line: number; lines: string[] }> {
  const out: Array<{ title: string; line: number; lines: string[] }> = [];
  let fenced = false;
  markdown.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (!fenced && line.startsWith('## ')) out.push({ title: line.slice(3).trim(), line: i + 1, lines: [] });
    out.at(-1)?.lines.push(line);
  });
  return out;
}

const found = sections(readme);
const position = (title: string) => found.findIndex((s) => s.title === title);

describe("README.md in a newcomer's order", () => {
  test('every landmark section exists', () => {
    expect(GROUPS.flatMap(([, titles]) => titles).filter((t) => position(t) < 0)).toEqual([]);
  });

  test('start, then guides, then reference, then background; Development last', () => {
    const order = GROUPS.flatMap(([group, titles]) => titles.map((t) => ({ group, t, at: position(t) })));
    const misplaced = order.filter((x, i) => order.slice(i + 1).some((y) => y.group !== x.group && y.at < x.at));
    expect(misplaced.map((x) => `${x.group}: ${x.t}`)).toEqual([]);
    expect(found.at(-1)?.title).toBe('Development');
  });

  test('the two commands that try the project come before any guide', () => {
    const tryIt = found[position('Try it in two commands')]!;
    expect(tryIt.lines.join('\n')).toMatch(/npm ci && npm start/);
    expect(tryIt.lines.join('\n')).toMatch(/^npm test/m);
    expect(tryIt.line).toBeLessThan(found[position('Quick start (five minutes)')]!.line);
  });

  test('security and performance are short summaries that point at their docs', () => {
    for (const [title, doc] of [
      ['Security', 'docs/security.md'],
      ['Performance', 'docs/performance.md'],
    ] as const) {
      const section = found[position(title)]!;
      // Short: a summary (a table may stay), the details in the doc it links.
      expect({ title, short: section.lines.length <= 120, links: section.lines.join('\n').includes(`](${doc})`) }).toEqual({
        title,
        short: true,
        links: true,
      });
    }
  });
});
