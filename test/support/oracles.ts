// The tests' oracles (the providers' own code: Polis, WorkOS's SDK; playwright-core for
// Chromium) are a package of their own in test/oracles, so `npm install` for the service stays
// small: Polis alone brings typeorm and the drivers of every store it supports, several hundred
// MB. They are installed here, from test/oracles/package-lock.json, the first time the tests
// (global-setup.ts) or the type check (`npm run typecheck`) need them, and again whenever that
// lockfile changes. Run directly (`tsx test/support/oracles.ts`) it installs and exits.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ORACLES_DIR = fileURLToPath(new URL('../oracles/', import.meta.url));
/** Which lockfile the installed tree came from: written after a complete install only. */
const STAMP = join(ORACLES_DIR, 'node_modules', '.installed-from');

const lockDigest = () => createHash('sha256').update(readFileSync(join(ORACLES_DIR, 'package-lock.json'))).digest('hex');

export function oraclesInstalled(): boolean {
  return existsSync(STAMP) && readFileSync(STAMP, 'utf8') === lockDigest();
}

/** Installs test/oracles from its lockfile unless that exact tree is there; says so when it does. */
export function installOracles(say: (line: string) => void = (line) => console.log(line)): void {
  if (oraclesInstalled()) return;
  say("Installing the tests' oracles (Polis, dynalite, WorkOS's SDK, Apollo Client, playwright-core) into test/oracles/node_modules: once, about a minute…");
  const started = Date.now();
  // Install scripts are skipped: none is needed, and better-sqlite3's (a Polis store the tests
  // do not use) would compile it from source. Engine warnings are the oracles' own business.
  const npm = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: ORACLES_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (npm.status !== 0) {
    throw new Error(`installing the tests' oracles failed (npm ci in ${ORACLES_DIR} exited ${npm.status ?? npm.signal}); see npm's output above`);
  }
  writeFileSync(STAMP, lockDigest());
  say(`Installed the tests' oracles in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) installOracles();
