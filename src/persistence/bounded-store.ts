import { Logger } from '@nestjs/common';
import { AuthError } from '../errors/auth-error.js';

/** Store calls that outlive this budget count as failures (API.md "Store faults"). */
export const DEFAULT_STORE_TIMEOUT_MS = 2000;

/**
 * Settles `work` within `timeoutMs`: a call still pending then rejects with
 * `AuthError('auth_unavailable', 'store_timeout')`. The pending call is left to
 * finish on its own (a database driver cannot always be interrupted); its late
 * result is ignored and its late rejection swallowed.
 */
export function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new AuthError('auth_unavailable', 'store_timeout')), timeoutMs);
    // An unref'd timer never keeps a stopping process alive for a stuck store.
    timer.unref?.();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Logs a store failure once per outage: the first failure of a run is logged
 * with the driver's message (cut short: never a query's parameters), later ones
 * are counted, and the first success after them says the store is back.
 */
class FailureLog {
  private failing = false;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly name: string,
  ) {}

  failed(method: string, reason: 'store_timeout' | 'store_failed', err: unknown): void {
    if (this.failing) {
      this.suppressed++;
      return;
    }
    this.failing = true;
    const detail = reason === 'store_timeout' ? 'did not settle in time' : safeMessage(err);
    this.logger.error(`${this.name}.${method} failed (${reason}): ${detail}`);
  }

  succeeded(): void {
    if (!this.failing) return;
    this.logger.log(`${this.name} answers again (${this.suppressed} more failures were not logged)`);
    this.failing = false;
    this.suppressed = 0;
  }
}

/** The internal reason of an AuthError (its `reason`, or its message before the core's errors carried one). */
export function reasonOf(err: unknown): string | undefined {
  if (!(err instanceof AuthError)) return undefined;
  return (err as AuthError & { reason?: string }).reason ?? err.message;
}

/** The first line of an error's message, at most 200 characters. */
function safeMessage(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : typeof err === 'string' ? err : 'non-error rejection';
  return text.split('\n')[0]!.slice(0, 200);
}

/**
 * Wraps every method of `store` so that each call settles within `timeoutMs`
 * and fails only as `AuthError('auth_unavailable', 'store_timeout' | 'store_failed')`.
 * An `AuthError` the store throws itself passes through unchanged. Methods that
 * are not functions, and the store's own `this`, are left as they are.
 */
export function boundStore<T extends object>(store: T, timeoutMs: number, name: string, logger = new Logger('AuthStore')): T {
  const log = new FailureLog(logger, name);
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const method = String(prop);
        fn = function bounded(...args: unknown[]): Promise<unknown> {
          let work: Promise<unknown>;
          try {
            work = Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args));
          } catch (err) {
            work = Promise.reject(err);
          }
          return withTimeout(work, timeoutMs).then(
            (result) => {
              log.succeeded();
              return result;
            },
            (err: unknown) => {
              if (err instanceof AuthError && err.code !== 'auth_unavailable') throw err;
              const reason = reasonOf(err) === 'store_timeout' ? 'store_timeout' : 'store_failed';
              log.failed(method, reason, err);
              throw err instanceof AuthError ? err : new AuthError('auth_unavailable', 'store_failed');
            },
          );
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

/** Every store of a set, bounded; names in logs are the set's keys (`sessions.find`, ...). */
export function boundStores<T extends Record<string, object>>(stores: T, timeoutMs: number, logger?: Logger): T {
  const out = {} as Record<string, object>;
  for (const [key, store] of Object.entries(stores)) out[key] = boundStore(store, timeoutMs, key, logger);
  return out as T;
}
