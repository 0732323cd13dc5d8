// Opens the database: embedded PGlite by default, a real Postgres through postgres.js when a
// URL is given. Both get the same schema and the same migrations, applied before use.
import { tlsFromUrl } from './tls.js';
import { spanEvent } from '../lib/tracing.js';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { isUnavailable } from './errors.js';
import { acquirePgliteLock } from './pglite-lock.js';
import { createPoolCounter, type PoolCounter, type PoolUse } from './pool-use.js';
import { createReadRouter, fallingBackTo, primaryOnly, type ReadRouter, type ReplicaPool, type ReplicaState } from './replicas.js';
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
  /**
   * LISTENs on a channel; resolves to an unlisten once listening. On Postgres the listener has
   * a connection of its own, re-established whenever it drops; `onListen` runs each time
   * listening (re)starts, so a caller can catch up on what it missed while it was gone.
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    onListen?: () => void,
    /** Told when the listener drops (notices sent until `onListen` comes again are missed). */
    onLost?: () => void,
  ): Promise<() => Promise<void>>;
  /**
   * Runs `fn` holding the lock `name` for every process sharing this database, or answers
   * `{ ran: false }` at once when another holds it. On Postgres a session advisory lock on a
   * connection of its own (so a process that dies lets go); on PGlite, which one process owns,
   * a lock within the process. Should that connection close while `fn` runs, Postgres has let
   * the lock go and another process may take it: `fn`'s signal aborts then, with LockLost.
   */
  exclusive<T>(name: string, fn: (signal: AbortSignal) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
  /** Where reads go: read replicas (DATABASE_READ_URLS), or the primary (see replicas.ts). */
  reads: ReadRouter<Database>;
  /** Connections at work and statements waiting for one, now (see pool-use.ts). */
  poolUse(): PoolUse;
  /** When (performance.now()) a statement last failed because the database was unavailable. */
  lastUnavailableAt(): number;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgres:// URL. Unset: embedded PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data directory, or 'memory://' for a throwaway in-memory database. */
  pgliteDir?: string;
  /**
   * For an in-memory PGlite: a data directory to start from (a `dumpDataDir()` tarball of a
   * freshly initialised one) instead of running initdb, which takes seconds. Migrations still
   * run as usual. The test suite starts hundreds of databases this way.
   */
  pgliteTemplate?: Blob;
  /** postgres.js pool size. */
  poolSize?: number;
  /**
   * Named prepared statements on Postgres (default true): one round trip per statement instead
   * of two. Off for a pooler that cannot keep them (PgBouncer in transaction mode before 1.21).
   */
  preparedStatements?: boolean;
  /**
   * Where what needs a session of its own connects (LISTEN, session advisory locks, the
   * migration lock): the database itself when `databaseUrl` is a pooler in transaction mode
   * (PgBouncer), which gives each transaction any server connection. Default: `databaseUrl`.
   */
  sessionUrl?: string;
  /** Called with the text of every statement Drizzle runs (tests count queries with it). */
  onQuery?: (query: string) => void;
  /** Read replicas of `databaseUrl` (Postgres only): queries and payloads read there (replicas.ts). */
  readUrls?: string[];
  /** A replica further behind than this is left out of queries (default 10). */
  readMaxLagSeconds?: number;
  /** A replica went down, came back, or crossed the lag bound. */
  onReplicaChange?: (replica: ReplicaState, was: ReplicaState) => void;
}

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

// Any fixed number: serialises migrations when several instances start on one database.
const MIGRATION_LOCK = 7_255_810_001;

export async function openDatabase(options: OpenOptions): Promise<DatabaseHandle> {
  const expected = readMigrationFiles({ migrationsFolder }).length;
  const handle = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.poolSize ?? 10, options.onQuery, options.preparedStatements ?? true, options.sessionUrl, options)
    : await openPglite(options.pgliteDir ?? 'memory://', options.onQuery, options.pgliteTemplate);

  const migrationsApplied = async () => {
    const rows = await handle.db.execute<{ n: number }>(
      sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
    );
    return Number(resultRows<{ n: unknown }>(rows)[0]?.n ?? 0) >= expected;
  };
  return { ...handle, migrationsApplied };
}

/**
 * Each statement's text goes to `onQuery` (the tests count them) and, with traces on, becomes an
 * event of the span it runs in (its text only, never its parameters).
 */
const queryLogger = (onQuery: ((query: string) => void) | undefined) => ({
  logger: {
    logQuery: (query: string) => {
      onQuery?.(query);
      spanEvent('db.query', { 'db.query.text': query });
    },
  },
});

/** Postgres extensions the migrations create: PGlite ships them as modules to load. */
const extensions = { pg_trgm };

async function openPglite(
  dir: string,
  onQuery?: (query: string) => void,
  template?: Blob,
): Promise<Omit<DatabaseHandle, 'migrationsApplied'>> {
  let release = async () => {};
  if (dir !== 'memory://') {
    await mkdir(dir, { recursive: true });
    // PGlite does not lock its directory itself; a second process would lose writes.
    release = await acquirePgliteLock(dir);
  }
  let created: PGlite | undefined;
  try {
    created =
      dir === 'memory://'
        ? await PGlite.create({ extensions, ...(template ? { loadDataDir: template } : {}) })
        : await PGlite.create(dir, { extensions });
    await migratePglite(drizzlePglite(created, { schema }), { migrationsFolder });
  } catch (error) {
    await created?.close().catch(() => {});
    await release();
    throw error;
  }
  const client = created;
  const pool = createPoolCounter(1, isUnavailable);
  const db = drizzlePglite(countedPglite(client, pool), { schema, ...queryLogger(onQuery) });
  return {
    db,
    reads: primaryOnly(db),
    poolUse: pool.use,
    lastUnavailableAt: pool.lastUnavailableAt,
    kind: 'pglite',
    description: dir === 'memory://' ? 'embedded PGlite (in memory)' : `embedded PGlite in ${dir}`,
    ping: async () => {
      await client.query('select 1');
    },
    exclusive: inProcessExclusive(),
    // In-process: a listener can never be disconnected from it.
    listen: async (channel, onPayload, onListen) => {
      const unlisten = await client.listen(channel, onPayload);
      onListen?.();
      // Once the database is closed there is nothing left to stop listening to.
      return async () => {
        if (!client.closed) await unlisten();
      };
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        await release();
      }
    },
  };
}

/**
 * postgres.js runs a statement with parameters that is not prepared in two round trips (it
 * asks the server for the parameters' types, then executes), and Drizzle asks for unprepared
 * ones unless a query is given a name. Prepared, a statement costs one round trip from its
 * second use on each connection: half the round trips of a delivery, and of a page. Statements
 * are kept per connection until it is recycled. Statements that carry a batch pass it as one
 * JSON parameter, so their text, and the number of statements kept, does not grow with it.
 */
function alwaysPrepared<T extends postgres.Sql<Record<string, never>>>(sql: T): T {
  type Callback = (inner: postgres.Sql<Record<string, never>>) => unknown;
  const wrapLast = (args: unknown[]) => {
    const callback = args.at(-1) as Callback;
    return [...args.slice(0, -1), (inner: postgres.Sql<Record<string, never>>) => callback(alwaysPrepared(inner))];
  };
  return new Proxy(sql, {
    get(target, property) {
      if (property === 'unsafe') {
        return (query: string, parameters?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, parameters, { ...options, prepare: true });
      }
      if (property === 'begin' || property === 'savepoint') {
        const method = Reflect.get(target, property) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => method.apply(target, wrapLast(args));
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The client the service's statements go through, counted (statements inside a transaction are the transaction's). */
function countedPostgres<T extends postgres.Sql<Record<string, never>>>(sql: T, pool: PoolCounter): T {
  return new Proxy(sql, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property === 'unsafe') {
        return (query: string, parameters?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          pool.lazy(target.unsafe(query, parameters, options));
      }
      if (property === 'begin') {
        return (...args: unknown[]) => pool.around(() => (value as (...a: unknown[]) => PromiseLike<unknown>).apply(target, args));
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function countedPglite(client: PGlite, pool: PoolCounter): PGlite {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      if (property === 'query' || property === 'exec' || property === 'transaction') {
        return (...args: unknown[]) => pool.around(() => (value as (...a: unknown[]) => PromiseLike<unknown>).apply(target, args));
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

async function openPostgres(
  given: string,
  poolSize: number,
  onQuery?: (query: string) => void,
  prepared = true,
  givenSession = given,
  replicaOptions: Pick<OpenOptions, 'readUrls' | 'readMaxLagSeconds' | 'onReplicaChange'> = {},
): Promise<Omit<DatabaseHandle, 'migrationsApplied'>> {
  const { url, ssl } = tlsFromUrl(given);
  const session = tlsFromUrl(givenSession);
  const common = {
    ...(ssl !== undefined ? { ssl } : {}),
    onnotice: () => {},
    connect_timeout: 5,
    // postgres.js waits longer before each reconnect, up to 20 s, counting failures across the
    // whole pool: after a short restart the service would stay unavailable for many seconds
    // with the database already back. Retry quickly instead, at most a second apart.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    connection: { application_name: 'directory-sync' },
  } as const;

  // The session's own TLS settings over the pool's.
  const sessionCommon = { ...common, ...(session.ssl !== undefined ? { ssl: session.ssl } : {}) };
  // One dedicated connection holds the lock for the whole migration run.
  const migrator = postgres(session.url, { ...sessionCommon, max: 1 });
  try {
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migratePostgres(drizzlePostgres(migrator), { migrationsFolder });
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await migrator.end({ timeout: 5 });
  }

  // Off, no statement is named: not ours (alwaysPrepared) nor postgres.js's own, which names its
  // tagged queries, `begin` and `commit` included. Behind a pooler in transaction mode a named
  // statement is bound on whichever server connection the pooler gives next, where that name may
  // be another client's statement: a `commit` that runs something else leaves the transaction
  // open, to be rolled back later, while this side believes it committed.
  const client = postgres(url, { ...common, max: poolSize, idle_timeout: 60, prepare: prepared });
  // Session locks need a connection of their own for as long as they are held: through a pooler
  // in transaction mode the pool's would be handed to others between statements.
  const sessions = session.url === url ? client : postgres(session.url, { ...sessionCommon, max: 4, idle_timeout: 60 });
  const pool = createPoolCounter(poolSize, isUnavailable);
  const primaryClient = countedPostgres(prepared ? alwaysPrepared(client) : client, pool);
  const db = drizzlePostgres(primaryClient, { schema, ...queryLogger(onQuery) });
  const readUrls = replicaOptions.readUrls ?? [];
  let reads: ReadRouter<Database> = primaryOnly(db);
  if (readUrls.length > 0) {
    // Each replica's pool as large as the primary's: queries move there.
    const replicas = readUrls.map((given, index): ReplicaPool<Database> => {
      const target = tlsFromUrl(given);
      // Each URL its own TLS, as libpq reads them: a replica does not inherit the primary's (its CA or host check).
      const own = postgres(target.url, { ...common, ssl: target.ssl ?? false, max: poolSize, idle_timeout: 60, prepare: prepared });
      // Counted apart: a replica's failures say nothing of the primary's availability.
      const counted = countedPostgres(prepared ? alwaysPrepared(own) : own, createPoolCounter(poolSize, isUnavailable));
      const replicaDb = drizzlePostgres(fallingBackTo(counted, primaryClient, () => reads.failed(index)), { schema, ...queryLogger(onQuery) });
      return { db: replicaDb, sql: own, close: () => own.end({ timeout: 5 }) };
    });
    reads = createReadRouter({
      primary: db,
      primarySql: client,
      replicas,
      maxLagSeconds: replicaOptions.readMaxLagSeconds ?? 10,
      ...(replicaOptions.onReplicaChange ? { onChange: replicaOptions.onReplicaChange } : {}),
    });
  }
  return {
    db,
    reads,
    poolUse: pool.use,
    lastUnavailableAt: pool.lastUnavailableAt,
    kind: 'postgres',
    description: `Postgres at ${describeDatabaseUrl(url)}`,
    ping: async () => {
      await client`select 1`;
    },
    listen: (channel, onPayload, onListen, onLost) => listenPostgres(session.url, sessionCommon, channel, onPayload, onListen, onLost),
    exclusive: async (name, fn) => {
      const reserved = await sessions.reserve();
      try {
        const [row] = await reserved<{ ok: boolean; pid: number }[]>`select pg_try_advisory_lock(hashtextextended(${name}, 0)) as ok, pg_backend_pid() as pid`;
        if (!row?.ok) return { ran: false };
        const lost = new AbortController();
        const watch = watchLock(reserved, row.pid, name, lost);
        try {
          return { ran: true, value: await fn(lost.signal) };
        } finally {
          watch.stop();
          if (!lost.signal.aborted) await reserved`select pg_advisory_unlock(hashtextextended(${name}, 0))`.catch(() => {});
        }
      } finally {
        reserved.release();
      }
    },
    close: async () => {
      await reads.close();
      await client.end({ timeout: 5 });
      if (sessions !== client) await sessions.end({ timeout: 5 });
    },
  };
}

/** Named locks within this process: the embedded database has only one process. */
/** The lock `exclusive` held was let go while its holder ran: the holder must stop. */
export class LockLost extends Error {}

/** How often a held lock's connection is asked whether it is still the one that took it. */
const LOCK_CHECK_MS = 2000;

/**
 * Asks the connection holding a session lock, every two seconds, for its backend's pid. A
 * connection that closed (terminated, cut off) took the lock with it, and postgres.js would
 * answer the next statement on a new backend that holds nothing: either way the holder is told.
 */
function watchLock(reserved: postgres.ReservedSql, pid: number, name: string, lost: AbortController): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    if (stopped) return;
    let now: number | undefined;
    try {
      const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
      now = row?.pid;
    } catch {
      now = undefined;
    }
    if (stopped) return;
    if (now !== pid) {
      lost.abort(new LockLost(`lost the lock ${name}: the database connection holding it closed, so another process may take it`));
      return;
    }
    timer = setTimeout(() => void check(), LOCK_CHECK_MS);
  };
  timer = setTimeout(() => void check(), LOCK_CHECK_MS);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function inProcessExclusive(): DatabaseHandle['exclusive'] {
  const held = new Set<string>();
  return async (name, fn) => {
    if (held.has(name)) return { ran: false };
    held.add(name);
    try {
      // One process owns the embedded database: nothing can take the lock from it.
      return { ran: true, value: await fn(new AbortController().signal) };
    } finally {
      held.delete(name);
    }
  };
}

/**
 * A LISTEN on a connection of its own that comes back after it drops. postgres.js re-listens
 * after a drop too, but only once: if the server is still down at that moment the listener is
 * silently gone for good. Here a dropped connection is retried with backoff until it listens.
 */
async function listenPostgres(
  url: string,
  common: postgres.Options<Record<string, never>>,
  channel: string,
  onPayload: (payload: string) => void,
  onListen: (() => void) | undefined,
  onLost: (() => void) | undefined,
): Promise<() => Promise<void>> {
  let stopped = false;
  let wanted = true;
  let running: Promise<void> | undefined;
  const options: postgres.Options<Record<string, never>> = {
    ...common,
    max: 1,
    max_lifetime: 0, // never recycled: a recycled connection would miss notifications
    fetch_types: false,
    onclose: () => {
      wanted = true;
      onLost?.();
      if (!stopped) void establish();
    },
  };
  // onnotify is the option postgres.js's own listen() uses; its types leave it out.
  const client = postgres(
    url,
    Object.assign(options, {
      onnotify: (name: string, payload: string) => {
        if (name === channel) onPayload(payload);
      },
    }),
  );
  const statement = `listen "${channel.replace(/"/g, '""')}"`;

  const establish = (): Promise<void> =>
    (running ??= (async () => {
      for (let attempt = 0; wanted && !stopped; attempt++) {
        wanted = false;
        try {
          await client.unsafe(statement);
          if (!stopped) onListen?.();
        } catch {
          wanted = true;
          await sleep(Math.min(2000, 50 * 2 ** attempt));
        }
      }
    })().finally(() => {
      running = undefined;
      // A drop while we were finishing: go again.
      if (wanted && !stopped) void establish();
    }));

  // The first attempt must succeed (the caller learns the database is there); later drops are
  // retried for ever in the background.
  await client.unsafe(statement).catch(async (error: unknown) => {
    stopped = true;
    await client.end({ timeout: 1 });
    throw error;
  });
  wanted = false;
  onListen?.();
  return async () => {
    stopped = true;
    await client.end({ timeout: 5 });
  };
}

/** Where a postgres:// URL points, safe to print (no user or password). */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the configured DATABASE_URL';
  }
}
