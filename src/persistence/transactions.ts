import { resolve } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Drivers that give a DataSource a single connection (better-sqlite3 and the other SQLite drivers): every caller
 * shares it, so two transactions of the module open at once are one transaction nested in the other, and TypeORM's
 * bookkeeping of that nesting is not safe against interleaving ("cannot start a transaction within a transaction").
 */
const ONE_CONNECTION = new Set(['better-sqlite3', 'sqlite', 'sqljs', 'capacitor', 'expo', 'cordova', 'nativescript', 'react-native']);

/** The tail of each queue: what runs next waits for it. Per database file, else per DataSource (`:memory:`). */
const fileQueues = new Map<string, Promise<unknown>>();
const sourceQueues = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Two DataSources of one process on one file (two app instances in one test, or an app and a job) are two
 * connections to it, and better-sqlite3 waits for a lock synchronously: a write of one while the other holds an
 * open transaction blocks the very thread that would finish that transaction, until the busy timeout fails it.
 * So the queue is the file's, shared by every DataSource of the process on it. Other processes on the file are
 * SQLite's own locking's business (their lock holder goes on while this one waits).
 */
function fileOf(dataSource: DataSource): string | undefined {
  const database = (dataSource.options as { database?: unknown }).database;
  if (typeof database !== 'string' || database === '' || database === ':memory:' || database.startsWith('file::memory:')) return undefined;
  return resolve(database);
}

/**
 * Runs `work` alone on a one-connection DataSource (after whatever the module started on its file before), and at
 * once elsewhere, where each call gets a connection of its own from the pool. Every write of the TypeORM stores
 * goes through here: on SQLite a write must not land inside (and roll back with) another caller's open
 * transaction, nor wait on another connection's lock while blocking the thread. Never nest: `work` must not call
 * `exclusive` or `inTransaction` on a DataSource of the same file.
 */
export function exclusive<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  if (!ONE_CONNECTION.has(dataSource.options.type)) return work();
  const file = fileOf(dataSource);
  const previous = (file !== undefined ? fileQueues.get(file) : sourceQueues.get(dataSource)) ?? Promise.resolve();
  const run = previous.then(work, work);
  // The next caller waits for this one to settle, whatever its outcome.
  const tail: Promise<unknown> = run.then(
    () => undefined,
    () => undefined,
  );
  if (file === undefined) sourceQueues.set(dataSource, tail);
  else {
    fileQueues.set(file, tail);
    // An idle file leaves no entry behind.
    void tail.then(() => {
      if (fileQueues.get(file) === tail) fileQueues.delete(file);
    });
  }
  return run;
}

/** `dataSource.transaction(work)`, one at a time on a one-connection DataSource. */
export function inTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return exclusive(dataSource, () => dataSource.transaction(work));
}
