import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { serviceUrl } from './services.js';

/**
 * Debian's chromium, opted in by AUTH_TEST_CHROMIUM=/usr/bin/chromium (.ci/run sets it and installs the package):
 * nothing here downloads a browser (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 at install). Set but missing is an error.
 */
export const CHROMIUM = serviceUrl('chromium');
export const HAVE_CHROMIUM = CHROMIUM !== undefined;

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A browser with a fresh profile (its own --user-data-dir): two of them share nothing, as two people's browsers. */
export async function launchBrowser(): Promise<Browser> {
  const dir = mkdtempSync(join(tmpdir(), 'nest-auth-chromium-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { eventually } from './time.js';
