/**
 * Consumer-app tests: the package as an application gets it. `npm pack` builds the tarball (once per run: the
 * global setup of test/consumer/jest.config.js does it and passes the path in AUTH_TEST_TARBALL), apps are created
 * in os.tmpdir() (outside the repository, so nothing resolves from its node_modules), installed from the npm
 * registry with the tarball, compiled with their own `tsc` and started as `node dist/main.js`.
 *
 * They install from the network, so they run only when AUTH_TEST_CONSUMER=1 (`.ci/run` sets it; locally:
 * `AUTH_TEST_CONSUMER=1 npm run test:consumer`); otherwise each file skips with one line saying so.
 * `--prefer-offline` lets npm answer from its cache what it has already fetched.
 */
import { describe } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const fixtures = join(repoRoot, 'test/consumer/fixtures');

/** Whether the consumer tests run; if not, says once (per file) what they are and how to run them. */
export function consumerTestsEnabled(what: string): boolean {
  if (process.env.AUTH_TEST_CONSUMER === '1') return true;
  process.stdout.write(`[consumer] skipped: ${what} (installs from the npm registry; set AUTH_TEST_CONSUMER=1, or run npm run test:consumer)\n`);
  return false;
}

/** Packs the package (its `prepack` builds dist/) into `dir`; returns the tarball's path. */
export function packTarball(dir: string): string {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // prepack's build writes its lines to stdout before npm's JSON array.
  const [{ filename }] = JSON.parse(out.slice(out.startsWith('[') ? 0 : out.indexOf('\n[') + 1)) as Array<{ filename: string }>;
  return join(dir, filename);
}

let ownTarball: string | undefined;
/**
 * The tarball of this run: the global setup's, or (files run from the main Jest config with AUTH_TEST_CONSUMER=1)
 * one packed for this file, one file at a time: `prepack` rebuilds dist/, and two builds at once would collide.
 */
export function tarball(): string {
  if (process.env.AUTH_TEST_TARBALL) return process.env.AUTH_TEST_TARBALL;
  ownTarball ??= underPackLock(() => packTarball(tempDir('pack')));
  return ownTarball;
}

/** A lock folder beside the repository's own temp folders (mkdir is atomic); one left by a killed run expires. */
function underPackLock<T>(fn: () => T): T {
  const lock = join(tmpdir(), `nest-auth-consumer-pack-lock-${repoRoot.replace(/\W+/g, '_')}`);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + 600_000; ;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`waited 10 minutes for ${lock}`);
      else Atomics.wait(sleeper, 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const made: string[] = [];
/** A new folder under os.tmpdir(), removed at the end of the run unless AUTH_TEST_KEEP=1 (to look at a failure). */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `nest-auth-consumer-${label}-`));
  made.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  if (process.env.AUTH_TEST_KEEP === '1') return void process.stdout.write(`[consumer] kept: ${made.join(' ')}\n`);
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Environment for npm in a temp app: answers from the cache first, no audit or funding chatter. */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
  // Jest's and the repo's settings must not leak into the app's own tools.
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (key.startsWith('npm_package_') || key === 'npm_config_local_prefix') delete env[key];
  return { ...env, ...extra };
}

/** Runs a command in `cwd`; on failure the error carries its output. */
export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = npmEnv(), timeout = 300_000): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** `npm install` of `packages` (the tarball among them) into a new project folder with this package.json. */
export function installProject(dir: string, packageJson: Record<string, unknown>, packages: string[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true, ...packageJson }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...packages], dir);
}

/** Copies a fixture folder (test/consumer/fixtures/<name>) into `dest`. */
export function copyFixture(name: string, dest: string): void {
  cpSync(join(fixtures, name), dest, { recursive: true });
}

export interface RunningApp {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node <script>` (or a shell command) and waits for the app to print `listening <port>` (the fixtures do)
 * or for `ready(output)` to give a port; fails with the app's output if it exits first or takes over `ms`.
 */
export function startApp(child: ChildProcess, ready: (output: string) => number | undefined, ms = 60_000): Promise<RunningApp> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // A shell started detached is its own process group: end it and what it started.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
    }
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the app did not start within ${ms} ms:\n${output}`));
    }, ms);
    const check = () => {
      const port = ready(output);
      if (port === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolve({ port, output: () => output, stop });
    };
    child.stdout?.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

/** `node dist/main.js` in `cwd` with PORT=0; the fixtures print `listening <port>`. */
export function startNode(cwd: string, script: string, env: NodeJS.ProcessEnv = {}): Promise<RunningApp> {
  const child = spawn(process.execPath, [script], {
    cwd,
    env: { ...npmEnv(), PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return startApp(child, (out) => {
    const m = /listening (\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  });
}

/** A JSON request to a started app: status and parsed body. */
export async function call(
  port: number,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the text itself
  }
  return { status: res.status, body };
}

/** `describe.each` when the consumer tests run, `describe.skip.each` (the tests listed as skipped) otherwise. */
export function describeIf(enabled: boolean): typeof describe.skip {
  // Skipped only outside the consumer stage (AUTH_TEST_CONSUMER=1 or npm run test:consumer; .ci/run runs it): it installs from the registry.
  return enabled ? describe : describe.skip;
}
