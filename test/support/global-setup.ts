// Says plainly which databases the integration tests run against, and makes the initialised
// PGlite data directory that every in-memory test database starts from (PGLITE_TEMPLATE in
// backend.ts): initdb once per run instead of once per database.
// Every project inherits this setup; do it once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

const done = Symbol.for('directory-sync.global-setup-done');

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const g = globalThis as { [done]?: boolean };
  if (g[done]) return undefined;
  g[done] = true;

  const dir = await mkdtemp(join(tmpdir(), 'dsync-pglite-template-'));
  const template = join(dir, 'initialised.tar');
  const fresh = await PGlite.create();
  await writeFile(template, Buffer.from(await (await fresh.dumpDataDir('none')).arrayBuffer()));
  await fresh.close();
  process.env.TEST_PGLITE_TEMPLATE = template;

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
    '',
  ];
  console.log(lines.join('\n'));
  return () => rm(dir, { recursive: true, force: true });
}
