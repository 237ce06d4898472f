/**
 * The README's quick start, run verbatim: its blocks are read from README.md (support/readme.ts says how they are
 * marked), the files written into an empty folder, the shell blocks run there with bash, the server block started,
 * and each command's output compared with the `# ...` lines the README shows below it.
 *
 * Two substitutions, no more: `npm install` gets the packed tarball where the README says `@democrai/nest-auth`
 * (this version is not on the registry), and `localhost:3000` becomes a free port (PORT, which the README's main.ts
 * reads), so parallel runs never collide.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { consumerTestsEnabled, describeIf, npmEnv, removeTempDirs, startApp, tarball, tempDir, type RunningApp } from './support/consumer.js';
import { expectShownOutputs, freePort, readmeBlocks, runShell } from './support/readme.js';

const enabled = consumerTestsEnabled('the README quick start, run verbatim against the packed tarball');

describeIf(enabled).each(['README.md'])('the quick start of %s', () => {
  const blocks = enabled ? readmeBlocks('quickstart') : [];
  let app: string;
  let port: number;
  let server: RunningApp | undefined;
  const substitute = (command: string) =>
    command.replace(/^(npm (?:install|i) .*)@democrai\/nest-auth(?=\s|$)/m, `$1${tarball()}`).replaceAll('localhost:3000', `localhost:${port}`);

  beforeAll(async () => {
    app = join(tempDir('quickstart'), 'my-app');
    mkdirSync(app);
    port = await freePort();
  });
  afterAll(async () => {
    await server?.stop();
    removeTempDirs();
  });

  test('the README marks the steps: shell, files, server, shell', () => {
    expect(blocks.map((b) => b.kind)).toEqual(['shell', 'file', 'file', 'file', 'file', 'file', 'file', 'server', 'shell']);
  });

  test('creating the app and installing (step 0) runs as written', () => {
    const [install] = blocks;
    runShell(install, app, substitute);
    for (const file of blocks.filter((b) => b.kind === 'file')) {
      mkdirSync(dirname(join(app, file.arg)), { recursive: true });
      writeFileSync(join(app, file.arg), file.body);
    }
  }, 600_000);

  test('it builds and starts as written (step 4)', async () => {
    const start = blocks.find((b) => b.kind === 'server')!;
    const child = spawn('bash', ['-c', `set -e\n${start.body}`], {
      cwd: app,
      env: npmEnv({ PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    server = await startApp(child, (out) => (out.includes('Nest application successfully started') ? port : undefined), 180_000);
  }, 200_000);

  test('each call answers what the README shows (step 5)', () => {
    expect(server).toBeDefined();
    expect(expectShownOutputs(runShell(blocks.at(-1)!, app, substitute))).toBeGreaterThanOrEqual(4);
  }, 120_000);
});
