// Where reads go when read replicas are configured (DATABASE_READ_URLS). Queries go to a replica
// within the lag bound; the payloads of live changes go to a replica only once it has replayed
// the primary's WAL as far as it was when the changes were read (so a subscriber is never sent
// an object older than the change that caused the push), else to the primary. Everything that
// writes, the feed, locks and keys stay on the primary (the rest of db/).
//
// Each replica is checked every second: down (no answer, or not in recovery: promoted) or past
// the lag bound, it is left out until a check finds it well again. A statement a replica fails
// for want of it (refused, cut off, a recovery conflict) is run again on the primary, so a
// replica that dies between two checks costs a read its latency, never its answer.
import type postgres from 'postgres';
import { isUnavailable } from './errors.js';

export type ReadKind = 'query' | 'changes';
export type ReadTarget = 'primary' | 'replica';
/** Why a read meant for a replica went to the primary. */
export type FallbackReason = 'behind' | 'down' | 'error';

export interface ReplicaState {
  /** Its position in DATABASE_READ_URLS, from 0: a metric label, never the URL. */
  name: string;
  /** Answered its last check as a standby. */
  up: boolean;
  /**
   * Seconds since it last held everything the primary had committed (0 when it held it at the
   * last check): how stale a query there may be. Undefined while down.
   */
  lagSeconds: number | undefined;
  /** Bytes of WAL it has still to replay; undefined while down. */
  lagBytes: number | undefined;
}

export interface ReadCounts {
  reads: Record<`${ReadKind}:${ReadTarget}`, number>;
  fallbacks: Record<FallbackReason, number>;
}

/** `D`: what a read goes through (open.ts's Drizzle database). */
export interface ReadRouter<D> {
  /** How many replicas are configured (0: every read is the primary's). */
  readonly size: number;
  /** For a query: a replica within the lag bound, or the primary. */
  forQuery(): D;
  /**
   * For the payloads of changes already read from the primary's feed: a replica that has
   * replayed at least as far as the primary had written when this was called, else the primary.
   */
  forChanges(): Promise<D>;
  replicas(): ReplicaState[];
  counts(): ReadCounts;
  /** Replica `index` failed a statement for want of it: left out until its next check finds it well. */
  failed(index: number): void;
  close(): Promise<void>;
}

/** A replica's connection pool, as open.ts makes it. */
export interface ReplicaPool<D> {
  db: D;
  /** Runs one statement on the replica itself (checks, never fallen back). */
  sql: postgres.Sql<Record<string, never>>;
  close(): Promise<void>;
}

export interface RouterOptions<D> {
  primary: D;
  /** Runs one statement on the primary (its WAL position). */
  primarySql: postgres.Sql<Record<string, never>>;
  replicas: ReplicaPool<D>[];
  /** A replica whose replay is further behind than this is left out of queries. */
  maxLagSeconds: number;
  /** How often each replica is checked (default 1,000 ms). */
  checkMs?: number;
  /** A replica changed state (down, back, behind the bound, within it), for the log. */
  onChange?: (replica: ReplicaState, was: ReplicaState) => void;
}

/** An LSN as Postgres prints it (`16/B374D848`) as a number of bytes. */
export function lsnBytes(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

const zeroCounts = (): ReadCounts => ({
  reads: { 'query:primary': 0, 'query:replica': 0, 'changes:primary': 0, 'changes:replica': 0 },
  fallbacks: { behind: 0, down: 0, error: 0 },
});

/** Every read on the primary: the router without replicas. */
export function primaryOnly<D>(primary: D): ReadRouter<D> {
  const counts = zeroCounts();
  return {
    size: 0,
    forQuery: () => {
      counts.reads['query:primary']++;
      return primary;
    },
    forChanges: async () => {
      counts.reads['changes:primary']++;
      return primary;
    },
    replicas: () => [],
    counts: () => counts,
    failed: () => {},
    close: async () => {},
  };
}

interface Replica<D> {
  pool: ReplicaPool<D>;
  state: ReplicaState;
  /** The furthest replay position seen: replay only moves forward. */
  replayed: bigint;
  /** A replay check under way, shared by the reads that need it. */
  asking: Promise<bigint> | undefined;
  /** When (performance.now) the last check began that found it had replayed all the primary had. */
  caughtUpAt: number | undefined;
}

export function createReadRouter<D>(options: RouterOptions<D>): ReadRouter<D> {
  const counts = zeroCounts();
  const replicas: Replica<D>[] = options.replicas.map((pool, i) => ({
    pool,
    state: { name: String(i), up: false, lagSeconds: undefined, lagBytes: undefined },
    replayed: -1n,
    asking: undefined,
    caughtUpAt: undefined,
  }));
  let next = 0;
  let stopped = false;

  const serving = (s: ReplicaState) => s.up && s.lagSeconds !== undefined && s.lagSeconds <= options.maxLagSeconds;
  const usable = (r: Replica<D>) => serving(r.state);

  const update = (r: Replica<D>, state: ReplicaState) => {
    const was = r.state;
    r.state = state;
    if (was.up !== state.up || serving(was) !== serving(state)) options.onChange?.(state, was);
  };

  const markDown = (r: Replica<D>) => update(r, { name: r.state.name, up: false, lagSeconds: undefined, lagBytes: undefined });

  async function check(r: Replica<D>, primaryAt: bigint | undefined, readAt: number): Promise<void> {
    try {
      const [row] = await r.pool.sql<{ standby: boolean; replayed: string | null; since: number | null }[]>`
        select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replayed,
          extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as since`;
      if (!row?.standby || row.replayed === null) return markDown(r);
      const replayed = lsnBytes(row.replayed);
      if (replayed > r.replayed) r.replayed = replayed;
      const behind = primaryAt === undefined ? undefined : primaryAt > r.replayed ? primaryAt - r.replayed : 0n;
      // Replayed all the primary had written when this check began: it holds every commit made
      // before then, so its lag is the time since the last check that found it so. (Not the
      // time since its last replayed transaction: an idle primary's housekeeping records would
      // make a replica that lacks nothing look hours behind.)
      if (behind === 0n) r.caughtUpAt = readAt;
      const lagSeconds = behind === 0n ? 0 : r.caughtUpAt !== undefined ? (performance.now() - r.caughtUpAt) / 1000 : (row.since ?? 0);
      update(r, { name: r.state.name, up: true, lagSeconds: Math.max(0, lagSeconds), lagBytes: behind === undefined ? undefined : Number(behind) });
    } catch {
      markDown(r);
    }
  }

  async function checkAll(): Promise<void> {
    // The primary's position first: a replica read after it that has replayed as far is not behind.
    const readAt = performance.now();
    const primaryAt = await primaryPosition('current').catch(() => undefined);
    await Promise.all(replicas.map((r) => check(r, primaryAt, readAt)));
  }

  /** The primary's WAL position: `insert` for a read that must see what is committed now. */
  async function primaryPosition(which: 'insert' | 'current'): Promise<bigint> {
    const [row] =
      which === 'insert'
        ? await options.primarySql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
        : await options.primarySql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`;
    return lsnBytes(row!.lsn);
  }

  /** The replica's replay position now, one question at a time however many reads wait for it. */
  function replayedNow(r: Replica<D>): Promise<bigint> {
    r.asking ??= (async () => {
      try {
        const [row] = await r.pool.sql<{ replayed: string | null }[]>`select pg_last_wal_replay_lsn()::text as replayed`;
        if (row?.replayed) {
          const replayed = lsnBytes(row.replayed);
          if (replayed > r.replayed) r.replayed = replayed;
        }
        return r.replayed;
      } finally {
        r.asking = undefined;
      }
    })();
    return r.asking;
  }

  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    await checkAll();
    if (!stopped) timer = setTimeout(() => void loop(), options.checkMs ?? 1000).unref();
  };
  void loop();

  const roundRobin = (candidates: Replica<D>[]): Replica<D> | undefined => {
    if (candidates.length === 0) return undefined;
    next = (next + 1) % candidates.length;
    return candidates[next];
  };

  return {
    size: replicas.length,
    forQuery() {
      const r = roundRobin(replicas.filter(usable));
      if (!r) {
        counts.fallbacks.down++;
        counts.reads['query:primary']++;
        return options.primary;
      }
      counts.reads['query:replica']++;
      return r.pool.db;
    },
    async forChanges() {
      const up = replicas.filter((r) => r.state.up);
      const r = roundRobin(up);
      if (!r) {
        counts.fallbacks.down++;
        counts.reads['changes:primary']++;
        return options.primary;
      }
      try {
        // Read after the rows: at least the position of every commit they came from.
        const needed = await primaryPosition('insert');
        if (r.replayed >= needed || (await replayedNow(r)) >= needed) {
          counts.reads['changes:replica']++;
          return r.pool.db;
        }
        counts.fallbacks.behind++;
      } catch {
        counts.fallbacks.error++;
      }
      counts.reads['changes:primary']++;
      return options.primary;
    },
    replicas: () => replicas.map((r) => r.state),
    counts: () => counts,
    failed(index) {
      counts.fallbacks.error++;
      const r = replicas[index];
      if (r?.state.up) markDown(r);
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all(replicas.map((r) => r.pool.close()));
    },
  };
}

/** Counts a statement a replica failed and the primary answered instead. */
export type OnFallback = (error: unknown) => void;

type Modifier = [method: string, args: unknown[]];

/**
 * A replica's client whose statements, should the replica fail them for want of it, run again on
 * the primary: reads only, so running one twice is harmless. Keeps postgres.js's lazy statement
 * shape (modifiers such as `.values()` are applied before it is sent), which Drizzle relies on.
 */
export function fallingBackTo<T extends postgres.Sql<Record<string, never>>>(replica: T, primary: T, onFallback: OnFallback): T {
  const statement = (make: (client: T) => postgres.PendingQuery<postgres.Row[]>, modifiers: Modifier[]): PromiseLike<unknown> & Record<string, unknown> => {
    const send = (client: T) => {
      let query: unknown = make(client);
      for (const [method, args] of modifiers) query = (query as Record<string, (...a: unknown[]) => unknown>)[method]!(...args);
      return query as PromiseLike<unknown>;
    };
    const run = async () => {
      try {
        return await send(replica);
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        onFallback(error);
        return await send(primary);
      }
    };
    const modify = (method: string) => (...args: unknown[]) => statement(make, [...modifiers, [method, args]]);
    return {
      values: modify('values'),
      raw: modify('raw'),
      then: (onFulfilled, onRejected) => run().then(onFulfilled, onRejected),
    };
  };
  return new Proxy(replica, {
    get(target, property) {
      if (property === 'unsafe') {
        return (query: string, parameters?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          statement((client) => client.unsafe(query, parameters, options), []);
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
