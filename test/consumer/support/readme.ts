/**
 * Reads the blocks of README.md that a test runs verbatim. A fenced block is taken when the line above it is an
 * HTML comment `<!-- <section>: <kind> [<argument>] -->`, e.g. `<!-- quickstart: file src/main.ts -->` (the block is
 * that file of the app), `<!-- quickstart: shell -->` (commands to run, in the app's folder) or
 * `<!-- quickstart: server -->` (commands that start the app and keep running). GitHub does not render the comments.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { npmEnv, repoRoot } from './consumer.js';

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

/**
 * Runs a shell block's commands in one bash (so variables carry over), in `cwd`, after `substitute` (the tests'
 * documented substitutions); returns each command's output (stdout and stderr, as a terminal shows them).
 */
export function runShell(
  block: ReadmeBlock,
  cwd: string,
  substitute: (command: string) => string,
  env: NodeJS.ProcessEnv = npmEnv(),
): Array<ShellStep & { output: string }> {
  const steps = shellSteps(block.body);
  const separator = (i: number) => `@@step ${i} done@@`;
  const script = ['set -e', 'exec 2>&1', ...steps.flatMap((s, i) => [substitute(s.command), `printf '\\n%s\\n' '${separator(i)}'`])].join('\n');
  const result = spawnSync('bash', ['-c', script], { cwd, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`README.md:${block.line}: the block failed (exit ${result.status ?? result.signal}):\n${result.stdout}`);
  let rest = result.stdout;
  return steps.map((s, i) => {
    const at = rest.indexOf(`\n${separator(i)}\n`);
    const output = rest.slice(0, at);
    rest = rest.slice(at + separator(i).length + 2);
    return { ...s, output };
  });
}

/** Expects each command that the README shows an output for to print that (`...` matching anything). */
export function expectShownOutputs(steps: Array<ShellStep & { output: string }>): number {
  const shown = steps.filter((s) => s.expected !== null);
  for (const step of shown) {
    if (!matchesShown(step.output, step.expected!)) {
      throw new Error(`\`${step.command}\` printed:\n${step.output.trim()}\nbut the README shows:\n${step.expected}`);
    }
  }
  return shown.length;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
