// The subscription hub of one process: takes the rows the feed follower reads, loads the
// objects they are about once (shared by every subscriber here, whatever it selects), and
// hands each batch to its listeners (the push groups of fanout.ts) in sequence order, one
// batch at a time. While a batch is being handed on, rows read meanwhile wait here and go
// on together as the next batch: when fan-out falls behind, it catches up in bigger batches
// (each socket then gets several messages in one write) instead of falling further behind.
import type { Database } from '../../db/open.js';
import type { FeedFollower, FeedRow } from '../../directory/feed-follower.js';
import { Loaders } from '../loaders.js';

export interface LiveBatch {
  rows: readonly FeedRow[];
  loaders: Loaders;
}

/** Takes a batch; the hub waits for it before handing on the next. */
export type BatchListener = (batch: LiveBatch) => void | Promise<void>;

export interface LiveHub {
  readonly db: Database;
  /** Changes buffered per subscription before a slow client is cut off. */
  readonly bufferLimit: number;
  /**
   * The highest seq handed to listeners (a batch is counted as it starts being handed on).
   * Every row up to it is in the changes table; a listener that joins now receives the rows
   * after it, and the rows of a batch still being handed on are at or below it.
   */
  readonly position: number;
  join(listener: BatchListener): () => void;
  /** Loaders for a batch of rows, with the rows' objects already loaded. */
  loadersFor(rows: readonly FeedRow[]): Promise<Loaders>;
  stop(): Promise<void>;
}

export interface HubOptions {
  bufferLimit: number;
  onError?: (error: unknown) => void;
}

/** Rows handed on at once when catching up. */
const MAX_BATCH = 1000;

/** Loads every object a batch is about, in one query per kind, before anyone asks. */
async function prefetch(loaders: Loaders, rows: readonly FeedRow[]): Promise<void> {
  const ids = { TENANT: new Set<string>(), CONNECTION: new Set<string>(), MEMBER: new Set<string>(), GROUP: new Set<string>(), MEMBERSHIP: new Set<string>() };
  for (const row of rows) {
    ids[row.entity].add(row.entityId);
    if (row.tenantId) ids.TENANT.add(row.tenantId);
  }
  const memberships = await loaders.membership.loadMany([...ids.MEMBERSHIP]);
  for (const m of memberships) {
    if (!m || m instanceof Error) continue;
    if (m.memberId) ids.MEMBER.add(m.memberId);
    if (m.groupId) ids.GROUP.add(m.groupId);
  }
  await Promise.all([
    loaders.tenant.loadMany([...ids.TENANT]),
    loaders.connection.loadMany([...ids.CONNECTION]),
    loaders.member.loadMany([...ids.MEMBER]),
    loaders.group.loadMany([...ids.GROUP]),
  ]);
}

export function createLiveHub(follower: FeedFollower, db: Database, options: HubOptions): LiveHub {
  const listeners = new Set<BatchListener>();
  /** Rows read and not yet handed on, in sequence order. */
  let backlog: FeedRow[] = [];
  let pumping: Promise<void> | undefined;
  let stopped = false;
  let position = follower.position;

  const loadersFor = async (rows: readonly FeedRow[]): Promise<Loaders> => {
    const loaders = new Loaders(db);
    // A failed prefetch is not fatal: each push group loads (and retries) what it needs.
    await prefetch(loaders, rows).catch((error: unknown) => options.onError?.(error));
    return loaders;
  };

  const handOn = async (): Promise<void> => {
    while (backlog.length > 0 && !stopped) {
      const rows = backlog.length <= MAX_BATCH ? backlog : backlog.slice(0, MAX_BATCH);
      backlog = backlog.length <= MAX_BATCH ? [] : backlog.slice(MAX_BATCH);
      const loaders = listeners.size > 0 ? await loadersFor(rows) : new Loaders(db);
      position = rows[rows.length - 1]!.seq;
      const batch = { rows, loaders };
      for (const listener of [...listeners]) {
        // One group's failure must not stop the batch for the others, or the hub.
        try {
          await listener(batch);
        } catch (error) {
          options.onError?.(error);
        }
      }
    }
  };

  const pump = (): void => {
    if (pumping || stopped) return;
    pumping = handOn().finally(() => {
      pumping = undefined;
      // Rows may have come in between the last look at the backlog and here.
      if (backlog.length > 0) pump();
    });
  };

  const following = follower.follow((rows) => {
    for (const row of rows) backlog.push(row);
    pump();
  });
  position = following.position;

  return {
    db,
    bufferLimit: options.bufferLimit,
    get position() {
      return position;
    },
    join(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    loadersFor,
    async stop() {
      stopped = true;
      following.stop();
      listeners.clear();
      await pumping;
    },
  };
}
