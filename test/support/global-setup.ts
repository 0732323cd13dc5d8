// Once per run, before any test file: installs the tests' oracles (test/oracles) if they are
// missing, builds the service as it is deployed (`npm run build`, into dist/) for the tests that
// run it as a process, makes the initialised PGlite databases tests start from instead of running
// initdb (PGLITE_TEMPLATE in backend.ts, and an on-disk data directory for DATA_DIRs), and says
// plainly which databases the integration tests run against.
// Every project inherits this setup; do it once.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '../../src/db/open.js';
import { installOracles } from './oracles.js';
import { startPgBouncer } from './pgbouncer.js';
import { ROOT } from './process.js';
import { effortLine } from './effort.js';

const done = Symbol.for('directory-sync.global-setup-done');

/** `npm run build`, as the Dockerfile runs it: the processes tests start run dist/, as deployed. */
function buildService(): void {
  const started = Date.now();
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) throw new Error(`npm run build failed (${build.status ?? build.signal}): the tests run the built service`);
  console.log(`Built the service into dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s (the processes tests start run it)`);
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const g = globalThis as { [done]?: boolean };
  if (g[done]) return undefined;
  g[done] = true;

  installOracles();
  buildService();
  process.env.TEST_SERVICE_BUILD = join(ROOT, 'dist');

  const dir = await mkdtemp(join(tmpdir(), 'dsync-pglite-template-'));
  const template = join(dir, 'initialised.tar');
  const fresh = await PGlite.create();
  await writeFile(template, Buffer.from(await (await fresh.dumpDataDir('none')).arrayBuffer()));
  await fresh.close();
  process.env.TEST_PGLITE_TEMPLATE = template;
  // A DATA_DIR's database, initialised and migrated, for tests whose processes start on an
  // existing one (seededDataDir in process.ts): initdb on disk takes seconds each time.
  const onDisk = join(dir, 'data-dir-pglite');
  await (await openDatabase({ pgliteDir: onDisk })).close();
  process.env.TEST_PGLITE_DATA_DIR = onDisk;

  const url = process.env.TEST_DATABASE_URL;
  let where = 'set TEST_DATABASE_URL to a Postgres superuser URL to run them';
  if (url) {
    try {
      const u = new URL(url);
      where = `Postgres at ${u.hostname}:${u.port || 5432}`;
    } catch {
      where = 'Postgres at TEST_DATABASE_URL';
    }
  }
  const lines = [
    '',
    'Integration test backends:',
    '  pglite    RUN      embedded PGlite, in memory',
    url
      ? `  postgres  RUN      ${where}, with the multi-process tests`
      : `  postgres  SKIPPED  ${where}`,
    '',
    `Test deadlines ×${process.env.TEST_TIME_SCALE ?? '1'} (${process.env.TEST_TIME_SCALE_SOURCE ?? 'default'}; set TEST_TIME_SCALE to choose)`,
    effortLine(),
    '',
  ];
  // The pgbouncer project's pooler (vitest.config.ts runs it when TEST_PGBOUNCER is set).
  const bouncer = url && process.env.TEST_PGBOUNCER ? await startPgBouncer(url) : undefined;
  if (bouncer) {
    process.env.TEST_POOLER_PORT = String(bouncer.port);
    lines.splice(4, 0, `  pgbouncer RUN      the ingest, live and isolation suites' main files through PgBouncer (transaction mode) on port ${bouncer.port}`);
  }
  console.log(lines.join('\n'));
  return async () => {
    await bouncer?.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
