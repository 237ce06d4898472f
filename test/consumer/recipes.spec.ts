/**
 * The README's test-runner recipes ("Test runners: Vitest and Jest"), run verbatim on the quick start's app: the
 * quick start's install and files, then the recipe's blocks (marked `<!-- testing: ... -->`) in order. Vitest runs
 * the test file as written; Jest runs the same file with its one documented change (`@jest/globals` for `vitest`).
 * Both on Express and Fastify (the test file's describe.each). The limit the README states (Fastify under Jest on
 * Node.js < 24.9 without the override) is checked too, so the README notices when it stops being true.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { consumerTestsEnabled, describeIf, npmEnv, removeTempDirs, tarball, tempDir } from './support/consumer.js';
import { expectShownOutputs, readmeBlocks, runShell, type ReadmeBlock } from './support/readme.js';
import { spawnSync } from 'node:child_process';

const enabled = consumerTestsEnabled('the README test-runner recipes (Vitest and Jest, Express and Fastify) on a new app');

describeIf(enabled).each(['README.md'])('the test-runner recipes of %s', () => {
  const quickstart = enabled ? readmeBlocks('quickstart') : [];
  const recipe = enabled ? readmeBlocks('testing') : [];
  let app: string;
  const substitute = (command: string) => command.replace(/^(npm (?:install|i) .*)@democrai\/nest-auth(?=\s|$)/m, `$1${tarball()}`);
  const write = (block: ReadmeBlock) => {
    mkdirSync(dirname(join(app, block.arg)), { recursive: true });
    writeFileSync(join(app, block.arg), block.body);
  };
  const testFile = () => recipe.find((b) => b.kind === 'file' && b.arg.startsWith('test/'))!;
  const shells = () => recipe.filter((b) => b.kind === 'shell');

  beforeAll(() => {
    app = join(tempDir('recipes'), 'my-app');
    mkdirSync(app);
    // The quick start's app, as its own test builds it.
    runShell(quickstart[0], app, substitute);
    for (const file of quickstart.filter((b) => b.kind === 'file')) write(file);
  }, 600_000);
  afterAll(() => removeTempDirs());

  test('the README marks the recipe: peers, the test, Vitest, Jest, jest.config.js, the Fastify override', () => {
    expect(recipe.map((b) => `${b.kind} ${b.arg}`.trim())).toEqual([
      'shell',
      'file test/articles.e2e.test.ts',
      'shell',
      'shell',
      'file jest.config.js',
      'shell',
    ]);
  });

  test('Vitest: the test passes on Express and Fastify with no configuration', () => {
    const [peers, vitest] = shells();
    runShell(peers, app, substitute);
    write(testFile());
    expect(expectShownOutputs(runShell(vitest, app, substitute))).toBe(1);
  }, 600_000);

  test('Jest: with the four ESM settings and the override, the same test passes on Express and Fastify', () => {
    const [, , jestInstall, override] = shells();
    runShell(jestInstall, app, substitute);
    write(recipe.find((b) => b.arg === 'jest.config.js')!);
    const path = join(app, testFile().arg);
    writeFileSync(path, readFileSync(path, 'utf8').replace("from 'vitest'", "from '@jest/globals'"));

    // Without the override, on a Node.js whose Jest cannot require() an ES module, Fastify fails as the README says.
    const [major, minor] = process.versions.node.split('.').map(Number);
    if (major < 24 || (major === 24 && minor < 9)) {
      const before = spawnSync('npx', ['jest'], {
        cwd: app,
        env: npmEnv({ NODE_OPTIONS: '--experimental-vm-modules' }),
        encoding: 'utf8',
        timeout: 300_000,
      });
      const output = `${before.stdout}\n${before.stderr}`;
      expect(before.status).not.toBe(0);
      expect(output).toContain('Must use import to load ES Module');
      expect(output).toContain('path-to-regexp');
      expect(output).toMatch(/Tests:.*4 failed, 4 passed/);
    }

    expect(expectShownOutputs(runShell(override, app, substitute))).toBe(1);
  }, 600_000);
});
