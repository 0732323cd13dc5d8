// The database a test file runs against: in-memory PGlite, or a fresh database of its own on
// the Postgres at TEST_DATABASE_URL (dropped afterwards), so test files can run in parallel.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import postgres from 'postgres';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { throughPooler } from './pgbouncer.js';

export type BackendName = 'pglite' | 'postgres';

export const backend: BackendName = process.env.TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';
export const adminUrl = process.env.TEST_DATABASE_URL;
export const onPostgres = backend === 'postgres';
/**
 * The `pgbouncer` project: each test database is reached through the PgBouncer global-setup.ts
 * started (transaction mode), as docs/running.md says to run behind one: sessions direct, no
 * named statements.
 */
const poolerPort = process.env.TEST_POOLER === '1' ? process.env.TEST_POOLER_PORT : undefined;
if (process.env.TEST_POOLER === '1' && !poolerPort) throw new Error('the pgbouncer project needs the PgBouncer global-setup.ts starts (TEST_PGBOUNCER)');
export const throughPgBouncer = poolerPort !== undefined;

export interface TestDatabase {
  handle: DatabaseHandle;
  /** postgres:// URL of this test's own database (Postgres only), direct. */
  url: string | undefined;
  /** Closes the handle and drops the database. */
  dispose(): Promise<void>;
}

/** Creates an empty database on the test Postgres and returns its URL. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `dsync_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

/** A service process's database settings for the database `directUrl` names, as this project reaches it. */
export function serviceEnvFor(directUrl: string): Record<string, string> {
  return poolerPort
    ? { DATABASE_URL: throughPooler(directUrl, Number(poolerPort)), DATABASE_SESSION_URL: directUrl, DATABASE_PREPARED_STATEMENTS: 'false' }
    : { DATABASE_URL: directUrl };
}

let template: Promise<Blob | undefined> | undefined;

/**
 * The initialised data directory global-setup.ts made for this run (read once per test
 * file), so a test database skips initdb; without it (a test run some other way), initdb.
 */
function pgliteTemplate(): Promise<Blob | undefined> {
  const file = process.env.TEST_PGLITE_TEMPLATE;
  template ??= file ? readFile(file).then((bytes) => new Blob([bytes])) : Promise.resolve(undefined);
  return template;
}

export async function openTestDatabase(options: { onQuery?: (query: string) => void } = {}): Promise<TestDatabase> {
  if (!onPostgres) {
    const handle = await openDatabase({ pgliteDir: 'memory://', pgliteTemplate: await pgliteTemplate(), onQuery: options.onQuery });
    return { handle, url: undefined, dispose: () => handle.close() };
  }
  const created = await createPostgresDatabase();
  const serviceEnv = serviceEnvFor(created.url);
  const handle = await openDatabase({
    databaseUrl: serviceEnv.DATABASE_URL,
    poolSize: 20,
    onQuery: options.onQuery,
    ...(poolerPort ? { sessionUrl: created.url, preparedStatements: false } : {}),
  });
  return {
    handle,
    url: created.url,
    dispose: async () => {
      await handle.close();
      await created.drop();
    },
  };
}
