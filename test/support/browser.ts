// A real headless Chromium for the tests that need a browser. playwright-core ships no
// browser, so this uses the system's (Debian's `chromium`, which .ci/run installs) and never
// downloads one.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** TEST_CHROMIUM, or a system Chromium; undefined when there is none. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.TEST_CHROMIUM;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEST_CHROMIUM=${fromEnv} does not exist`);
    return fromEnv;
  }
  return CANDIDATES.find((path) => existsSync(path));
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    // Besides running without a display or sandbox (CI containers run as root), keep the
    // browser from calling home (component updates, sync, field trials), so a test can assert
    // that the page's own requests are the only ones.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
