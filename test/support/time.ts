/** Waits in real time: only where a test needs a real bound to pass (a poll interval, a whole second of token age). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits, bounded, until `predicate` holds; never asserts on time. */
export async function eventually(predicate: () => Promise<boolean>, what: string, limitMs = 15000): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
