// A real headless Chromium for the tests that need a browser. playwright-core ships no
// browser, so this uses the system's (Debian's `chromium`, which .ci/run installs) and never
// downloads one.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from '../oracles/chromium.js';
import { budget } from './time.js';

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

/** A fresh browser profile (empty localStorage) that records every URL the page requests. */
export async function recordingContext(browser: Browser, urls: string[]): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
  // Playwright's own waits (locators, navigation) scale like every other deadline in the suite.
  context.setDefaultTimeout(budget(30_000));
  context.setDefaultNavigationTimeout(budget(30_000));
  context.on('request', (request) => urls.push(request.url()));
  // Runs before the page's own scripts; only reports, so it cannot make the page pass.
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))",
  );
  return context;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The recorded URLs that went anywhere but this machine. */
export const nonLocal = (urls: string[]): string[] =>
  urls.filter((url) => {
    const parsed = new URL(url);
    return parsed.protocol !== 'data:' && !LOCAL_HOSTS.has(parsed.hostname);
  });
