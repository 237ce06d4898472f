// @ts-check
/*
 * The password hashing worker (started by hash-workers.ts, one per pool slot). Plain JavaScript, so the same file runs
 * from dist/ and from src/ under ts-jest, where a .ts file cannot be given to `new Worker`; `npm run lint` type-checks
 * it (tsconfig.worker.json) and the build copies it to dist/.
 *
 * The synchronous calls keep the hashing on this thread, whose priority it lowers first (Linux: niceness is per
 * thread, and raising it needs no privilege). The addons come by absolute path, resolved by the pool from its own
 * module. An error is sent back as a message scrubbed of the inputs.
 */
import { readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { parentPort as port, workerData } from 'node:worker_threads';

/** @typedef {import('./hash-workers.js').HashTask} HashTask */
/** @typedef {{ argon2: string; niceness: number | null }} HashWorkerData */
/** @typedef {{ hashSync(plain: string, options: Record<string, number>): string; verifySync(hash: string, plain: string): boolean }} Argon2 */
/** @typedef {{ verifySync(plain: string, hash: string): boolean }} Bcrypt */

if (!port) throw new Error('hash-worker.js runs as a worker thread only');
const parentPort = port;
const data = /** @type {HashWorkerData} */ (workerData);
// The addons are CommonJS: loaded synchronously, as the pool's tasks are answered.
const load = createRequire(import.meta.url);

/** @type {number | null} */
let tid = null;
if (process.platform === 'linux') {
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (data.niceness !== null) setPriority(tid, data.niceness);
  } catch (err) {
    const code = /** @type {{ code?: string } | null} */ (err)?.code ?? 'error';
    if (data.niceness !== null) parentPort.postMessage({ warn: `could not lower the hashing thread priority: ${code}` });
  }
}

const argon2 = /** @type {Argon2} */ (load(data.argon2));
/** @type {Bcrypt | undefined} */
let bcrypt;

/** @param {HashTask} t */
function run(t) {
  switch (t.op) {
    case 'hash':
      return argon2.hashSync(t.plain, t.options);
    case 'verify':
      return argon2.verifySync(t.hash, t.plain);
    case 'bcrypt-verify':
      bcrypt ??= /** @type {Bcrypt} */ (load(t.module));
      return bcrypt.verifySync(t.plain, t.hash);
  }
  throw new Error('unknown task');
}

parentPort.on('message', (/** @type {HashTask} */ t) => {
  try {
    parentPort.postMessage({ ok: true, value: run(t) });
  } catch (err) {
    let message = String(/** @type {{ message?: unknown } | null} */ (err)?.message || 'error').slice(0, 200);
    for (const secret of [/** @type {{ plain?: unknown }} */ (t).plain, /** @type {{ hash?: unknown }} */ (t).hash]) {
      if (typeof secret === 'string' && secret.length > 0 && message.includes(secret)) message = 'error';
    }
    parentPort.postMessage({ ok: false, message });
  }
});
parentPort.postMessage({ ready: true, tid });
