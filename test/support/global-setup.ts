// Says plainly which databases the integration tests run against.
// Every project inherits this setup; say it once.
const printed = Symbol.for('directory-sync.backends-printed');

export default function setup(): void {
  const g = globalThis as { [printed]?: boolean };
  if (g[printed]) return;
  g[printed] = true;
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
}
