// The subscription hub of one process: takes the rows the feed follower reads, has the objects
// they are about loaded once (shared by every subscriber here, whatever it selects: `prepare`,
// which the GraphQL side supplies), and hands each batch to its listeners (the push groups of
// fanout.ts) in sequence order, one batch at a time. While a batch is being handed on, rows read meanwhile wait here and go
// on together as the next batch: when fan-out falls behind, it catches up in bigger batches
// (each socket then gets several messages in one write) instead of falling further behind.
import type { Database } from '../db/open.js';
import type { FeedFollower, FeedRow } from './follower.js';

/**
 * Rows handed on together, with what their payloads are read through (`S`: the GraphQL side's
 * loaders, with the rows' objects already loaded), shared by every subscriber of the batch.
 */
export interface LiveBatch<S> {
  rows: readonly FeedRow[];
  shared: S;
}

/** Takes a batch; the hub waits for it before handing on the next. */
export type BatchListener<S> = (batch: LiveBatch<S>) => void | Promise<void>;

export interface LiveHub<S> {
  readonly db: Database;
  /** Changes buffered per subscription before a slow client is cut off. */
  readonly bufferLimit: number;
  /**
   * The highest seq handed to listeners (a batch is counted as it starts being handed on).
   * Every row up to it is in the changes table; a listener that joins now receives the rows
   * after it, and the rows of a batch still being handed on are at or below it.
   */
  readonly position: number;
  join(listener: BatchListener<S>): () => void;
  /** What a batch of rows is read through (history's pages use it too). */
  prepare(rows: readonly FeedRow[]): Promise<S>;
  stop(): Promise<void>;
}

export interface HubOptions<S> {
  bufferLimit: number;
  /**
   * Makes what a batch's payloads are read through, loading the rows' objects once for every
   * subscriber. Must not fail for an outage: a subscriber's own reads retry.
   */
  prepare(rows: readonly FeedRow[]): Promise<S>;
  onError?: (error: unknown) => void;
}

/** Rows handed on at once when catching up. */
const MAX_BATCH = 1000;

export function createLiveHub<S>(follower: FeedFollower, db: Database, options: HubOptions<S>): LiveHub<S> {
  const listeners = new Set<BatchListener<S>>();
  /** Rows read and not yet handed on, in sequence order. */
  let backlog: FeedRow[] = [];
  let pumping: Promise<void> | undefined;
  let stopped = false;
  let position = follower.position;

  const handOn = async (): Promise<void> => {
    while (backlog.length > 0 && !stopped) {
      const rows = backlog.length <= MAX_BATCH ? backlog : backlog.slice(0, MAX_BATCH);
      backlog = backlog.length <= MAX_BATCH ? [] : backlog.slice(MAX_BATCH);
      // With nobody listening the rows are only counted: nothing is loaded for them.
      if (listeners.size === 0) {
        position = rows[rows.length - 1]!.seq;
        continue;
      }
      const shared = await options.prepare(rows);
      position = rows[rows.length - 1]!.seq;
      const batch = { rows, shared };
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
    prepare: options.prepare,
    async stop() {
      stopped = true;
      following.stop();
      listeners.clear();
      await pumping;
    },
  };
}
