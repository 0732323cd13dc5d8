// Says plainly which databases the integration tests run against.
export default function setup(): void {
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
  ];
  console.log(lines.join('\n'));
}
