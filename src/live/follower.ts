// Follows the change feed from one process: LISTENs on the feed channel and, whenever it is
// woken (a notification, the listener coming back after a drop, or a slow poll as a backstop),
// reads every row after the last one it saw and hands them, in sequence order, to its
// listeners. One reader per process however many subscribers: they share what it reads.
//
// Reading `seq > last` never skips or repeats only because directory/feed.ts makes sequence
// order commit order (see the note there). The follower starts at the feed's current end: what
// came before is history, which a subscriber asks for explicitly (`after`) and reads from the
// table.
import { asc, gt, max } from 'drizzle-orm';
import type { DatabaseHandle } from '../db/open.js';
import { changes } from '../db/schema.js';
import { readFeedHorizon } from '../directory/feed-horizon.js';
import { FEED_CHANNEL } from '../directory/feed.js';

export type FeedRow = typeof changes.$inferSelect;

/** Receives each batch of new rows in sequence order. Must not throw or block. */
export type FeedListener = (rows: readonly FeedRow[]) => void;

export interface FeedFollower {
  /** The highest seq read and handed to listeners. Rows up to it are all in the table. */
  readonly position: number;
  /**
   * Adds a listener and returns the position at that moment with an unsubscribe: the
   * listener receives exactly the rows after that position.
   */
  follow(listener: FeedListener): { position: number; stop(): void };
  stop(): Promise<void>;
}

export interface FollowOptions {
  /** Backstop read interval in ms when nothing woke the follower (0: never). Default 5000. */
  pollIntervalMs?: number;
  /** Rows per read. Default 500. */
  batchSize?: number;
  /** A read failed (the database is away); the follower retries on its own. */
  onError?: (error: unknown) => void;
}

export async function followFeed(
  database: Pick<DatabaseHandle, 'db' | 'listen'>,
  options: FollowOptions = {},
): Promise<FeedFollower> {
  const { db } = database;
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 5000;
  const listeners = new Set<FeedListener>();
  let position = 0;
  let started = false;
  let stopped = false;
  let reading: Promise<void> | undefined;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;

  const readOnce = async (): Promise<boolean> => {
    const rows = await db.select().from(changes).where(gt(changes.seq, position)).orderBy(asc(changes.seq)).limit(batchSize);
    if (rows.length === 0 || stopped) return false;
    position = rows[rows.length - 1]!.seq;
    for (const listener of listeners) listener(rows);
    return rows.length === batchSize;
  };

  const wake = (): void => {
    if (!started || stopped) return;
    if (reading) {
      // A row may have committed after the running read's query: read once more after it.
      again = true;
      return;
    }
    reading = (async () => {
      try {
        do {
          again = false;
          while (!stopped && (await readOnce()));
        } while (again && !stopped);
        failures = 0;
      } catch (error) {
        options.onError?.(error);
        failures++;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(wake, Math.min(5000, 100 * 2 ** failures));
      } finally {
        reading = undefined;
      }
    })();
  };

  // Listening first, then reading where the feed ends: a change committed in between both
  // notifies and is after the position, so it is read, never lost.
  const unlisten = await database.listen(FEED_CHANNEL, wake, wake);
  const [end] = await db.select({ seq: max(changes.seq) }).from(changes);
  // Never below what retention pruned (a feed pruned empty has no max): a cursor older than
  // the horizon then always reads history, where it is refused, never skips the gap live.
  position = Math.max(end?.seq ?? 0, await readFeedHorizon(db));
  started = true;
  const poll = pollIntervalMs > 0 ? setInterval(wake, pollIntervalMs) : undefined;
  poll?.unref();

  return {
    get position() {
      return position;
    },
    follow(listener) {
      listeners.add(listener);
      return { position, stop: () => listeners.delete(listener) };
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearTimeout(retryTimer);
      listeners.clear();
      await reading;
      await unlisten();
    },
  };
}
