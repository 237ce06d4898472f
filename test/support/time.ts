/** Waits in real time: only where a test needs a real bound to pass (a poll interval, a whole second of token age). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
