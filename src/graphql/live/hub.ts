// The subscription hub of one process: takes the batches the feed follower reads, loads the
// objects they are about once (shared by every subscriber here, whatever it selects), and
// hands each batch to every open subscription in sequence order. Nothing here waits on a
// subscriber: a slow one only fills its own bounded queue (stream.ts).
import type { Database } from '../../db/open.js';
import type { FeedFollower, FeedRow } from '../../directory/feed-follower.js';
import { Loaders } from '../loaders.js';
import type { LiveKind } from './events.js';

export interface LiveBatch {
  rows: readonly FeedRow[];
  loaders: Loaders;
  /** Executions shared by the batch's subscribers (see execute.ts). */
  shared: Map<string, unknown>;
}

export type BatchListener = (batch: LiveBatch) => void;

export interface LiveHub {
  readonly db: Database;
  /** Events buffered per subscription before a slow client is cut off. */
  readonly bufferLimit: number;
  /**
   * Adds a listener and returns the position at that moment: the listener receives exactly
   * the rows after it, and every row up to it is in the changes table.
   */
  join(listener: BatchListener, kind: LiveKind): { position: number; leave(): void };
  /** Open subscriptions here, by what they follow (for the metrics). */
  subscribers(): Record<LiveKind, number>;
  /** Loaders for a batch of rows, with the rows' objects already loaded. */
  loadersFor(rows: readonly FeedRow[]): Promise<Loaders>;
  stop(): Promise<void>;
}

export interface HubOptions {
  bufferLimit: number;
  onError?: (error: unknown) => void;
}

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
  const byKind: Record<LiveKind, number> = { TENANT: 0, CONNECTION: 0, MEMBER: 0, GROUP: 0 };
  // Batches are handed on in the order read, each after its prefetch.
  let chain: Promise<void> = Promise.resolve();
  // The highest seq handed to listeners; a batch still prefetching is after it.
  let position = follower.position;

  const loadersFor = async (rows: readonly FeedRow[]): Promise<Loaders> => {
    const loaders = new Loaders(db);
    // A failed prefetch is not fatal: each subscriber loads (and retries) what it needs.
    await prefetch(loaders, rows).catch((error: unknown) => options.onError?.(error));
    return loaders;
  };

  const following = follower.follow((rows) => {
    chain = chain.then(async () => {
      const loaders = listeners.size > 0 ? await loadersFor(rows) : new Loaders(db);
      position = rows[rows.length - 1]!.seq;
      const batch = { rows, loaders, shared: new Map<string, unknown>() };
      for (const listener of listeners) {
        // One subscriber's failure must not stop the batch for the others, or the chain.
        try {
          listener(batch);
        } catch (error) {
          options.onError?.(error);
        }
      }
    });
  });
  position = following.position;

  return {
    db,
    bufferLimit: options.bufferLimit,
    join(listener, kind) {
      listeners.add(listener);
      byKind[kind]++;
      return {
        position,
        leave: () => {
          if (listeners.delete(listener)) byKind[kind]--;
        },
      };
    },
    subscribers: () => ({ ...byKind }),
    loadersFor,
    async stop() {
      following.stop();
      listeners.clear();
      await chain;
    },
  };
}
