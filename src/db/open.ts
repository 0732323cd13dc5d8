// Opens the database: embedded PGlite by default, a real Postgres through postgres.js when a
// URL is given. Both get the same schema and the same migrations, applied before use.
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { acquirePgliteLock } from './pglite-lock.js';
import { resultRows } from './result.js';
import * as schema from './schema.js';

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

export interface DatabaseHandle {
  db: Database;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, safe to log (no password). */
  description: string;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  /** True when every migration shipped with this build has been applied. */
  migrationsApplied(): Promise<boolean>;
  /** LISTENs on a channel (on its own connection for Postgres); resolves to an unlisten. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL. Unset: embedded PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data directory, or 'memory://' for a throwaway in-memory database. */
  pgliteDir?: string;
  /** postgres.js pool size. */
  poolSize?: number;
  /** Called with the text of every statement Drizzle runs (tests count queries with it). */
  onQuery?: (query: string) => void;
}

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

// Any fixed number: serialises migrations when several instances start on one database.
const MIGRATION_LOCK = 7_255_810_001;

export async function openDatabase(options: OpenOptions): Promise<DatabaseHandle> {
  const expected = readMigrationFiles({ migrationsFolder }).length;
  const handle = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.poolSize ?? 10, options.onQuery)
    : await openPglite(options.pgliteDir ?? 'memory://', options.onQuery);

  const migrationsApplied = async () => {
    const rows = await handle.db.execute<{ n: number }>(
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    return Number(resultRows<{ n: unknown }>(rows)[0]?.n ?? 0) >= expected;
  };
  return { ...handle, migrationsApplied };
}

const queryLogger = (onQuery: ((query: string) => void) | undefined) =>
  onQuery ? { logger: { logQuery: (query: string) => onQuery(query) } } : {};

async function openPglite(dir: string, onQuery?: (query: string) => void): Promise<Omit<DatabaseHandle, 'migrationsApplied'>> {
  let release = async () => {};
  if (dir !== 'memory://') {
    await mkdir(dir, { recursive: true });
    // PGlite does not lock its directory itself; a second process would lose writes.
    release = await acquirePgliteLock(dir);
  }
  let created: PGlite | undefined;
  try {
    created = await PGlite.create(dir === 'memory://' ? undefined : dir);
    await migratePglite(drizzlePglite(created, { schema }), { migrationsFolder });
  } catch (error) {
    await created?.close().catch(() => {});
    await release();
    throw error;
  }
  const client = created;
  const db = drizzlePglite(client, { schema, ...queryLogger(onQuery) });
  return {
    db,
    kind: 'pglite',
    description: dir === 'memory://' ? 'embedded PGlite (in memory)' : `embedded PGlite in ${dir}`,
    ping: async () => {
      await client.query('select 1');
    },
    listen: async (channel, onPayload) => client.listen(channel, onPayload),
    close: async () => {
      try {
        await client.close();
      } finally {
        await release();
      }
    },
  };
}

async function openPostgres(
  url: string,
  poolSize: number,
  onQuery?: (query: string) => void,
): Promise<Omit<DatabaseHandle, 'migrationsApplied'>> {
  const common = {
    onnotice: () => {},
    connect_timeout: 5,
    connection: { application_name: 'directory-sync' },
  } as const;

  // One dedicated connection holds the lock for the whole migration run.
  const migrator = postgres(url, { ...common, max: 1 });
  try {
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migratePostgres(drizzlePostgres(migrator), { migrationsFolder });
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await migrator.end({ timeout: 5 });
  }

  const client = postgres(url, { ...common, max: poolSize, idle_timeout: 60 });
  const db = drizzlePostgres(client, { schema, ...queryLogger(onQuery) });
  return {
    db,
    kind: 'postgres',
    description: `Postgres at ${describeUrl(url)}`,
    ping: async () => {
      await client`select 1`;
    },
    listen: async (channel, onPayload) => {
      const { unlisten } = await client.listen(channel, onPayload);
      return unlisten;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the configured DATABASE_URL';
  }
}
