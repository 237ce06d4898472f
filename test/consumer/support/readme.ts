/**
 * Reads the blocks of README.md that a test runs verbatim. A fenced block is taken when the line above it is an
 * HTML comment `<!-- <section>: <kind> [<argument>] -->`, e.g. `<!-- quickstart: file src/main.ts -->` (the block is
 * that file of the app), `<!-- quickstart: shell -->` (commands to run, in the app's folder) or
 * `<!-- quickstart: server -->` (commands that start the app and keep running). GitHub does not render the comments.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './consumer.js';

export interface ReadmeBlock {
  kind: string;
  arg: string;
  body: string;
  /** 1-based line of the block's opening fence, for messages. */
  line: number;
}

export function readmeBlocks(section: string): ReadmeBlock[] {
  const lines = readFileSync(join(repoRoot, 'README.md'), 'utf8').split('\n');
  const marker = new RegExp(`^<!-- ${section}: (\\S+)(?: (.+?))? -->$`);
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = marker.exec(lines[i].trim());
    if (!m) continue;
    if (!/^```/.test(lines[i + 1] ?? '')) throw new Error(`README.md:${i + 1}: "${lines[i]}" is not followed by a fenced block`);
    const end = lines.findIndex((l, j) => j > i + 1 && /^```\s*$/.test(l));
    blocks.push({ kind: m[1], arg: m[2] ?? '', body: lines.slice(i + 2, end).join('\n') + '\n', line: i + 2 });
    i = end;
  }
  return blocks;
}

export interface ShellStep {
  command: string;
  /** The `# ...` lines right below the command: its expected output (`...` matches any text); null when none. */
  expected: string | null;
}

/** Splits a shell block into commands (a line ending in `\` goes on) with the output the README shows for each. */
export function shellSteps(body: string): ShellStep[] {
  const steps: ShellStep[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const last = steps.at(-1);
      if (!last) throw new Error(`a comment before any command: ${line}`);
      const text = line.replace(/^# ?/, '');
      last.expected = last.expected === null ? text : `${last.expected}\n${text}`;
      continue;
    }
    let command = line;
    while (command.endsWith('\\') && i + 1 < lines.length) command = `${command}\n${lines[++i]}`;
    steps.push({ command, expected: null });
  }
  return steps;
}

/** Whether `actual` is what the README shows: the same text, where `...` stands for anything. */
export function matchesShown(actual: string, shown: string): boolean {
  const pattern = shown
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[\\s\\S]*');
  return new RegExp(`^${pattern}$`).test(actual.trim());
}
