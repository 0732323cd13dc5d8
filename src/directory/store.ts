// Stores deliveries and applies their changes: record each delivery (idempotent on its keys),
// apply each change under the ordering guard, append what changed to the feed. Deliveries that
// arrive while a transaction is at work are applied together in the next one (group commit,
// batcher.ts): one commit, one turn of the feed lock and one notification for all of them, in
// arrival order. Each delivery is all or nothing, and acknowledged only once the transaction
// holding it has committed; one that fails is retried alone, so it never fails its batchmates.
import { inSpan, linksTo, traceParent, tracing } from '../lib/tracing.js';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { deliveries } from '../db/schema.js';
import { resultRows } from '../db/result.js';
import { applyEvents } from './apply.js';
import { createBatcher } from './batcher.js';
import { finish, oversized, rejectedRoomFor } from './delivery-rows.js';
import { inRetriedTransaction, ingestTogether, type CommitObserver, type Transactions } from './transaction.js';
import { combinedStatus, type Delivery, type DeliveryStatus, type IngestResult } from './types.js';

export interface DirectoryStore {
  /**
   * `onStored`: told when a delivery applied in parts has been stored whole (committed, from
   * then on never lost) and its parts begin, so a caller out of time may answer for it.
   */
  ingest(delivery: Delivery, options?: { onStored?: (opened: IngestResult) => void }): Promise<IngestResult>;
  /**
   * Applies a stored delivery's events again, as read by today's adapters, in place: the same
   * delivery row gets the new status and outcomes, and only what actually changes reaches the
   * feed. Under the ordering guard like any delivery, so an old event never overwrites newer
   * state, and idempotent. Replays of one delivery wait for each other (a row lock), across
   * processes too. Throws DeliveryNotFound for an unknown id.
   */
  replay(deliveryId: string, delivery: Delivery): Promise<IngestResult>;
}

/**
 * A delivery with an event that cannot be read, from a sender that already keeps as many
 * rejected deliveries as REJECTED_MAX_PER_SENDER allows: not stored, so not acknowledged (the
 * sender keeps it and retries), rather than letting one sender grow storage without bound.
 */
export class RejectedBoundReached extends Error {
  constructor(
    readonly sender: string,
    readonly bound: number,
  ) {
    super(`${bound} rejected deliveries are kept for this sender already (REJECTED_MAX_PER_SENDER): not stored; retry later, it is taken once some are replayed (npm run replay) or pruned (REJECTED_RETENTION_DAYS)`);
  }
}

export class DeliveryNotFound extends Error {
  constructor(readonly deliveryId: string) {
    super(`no delivery ${deliveryId}`);
  }
}

/** Most body bytes applied in one transaction (one delivery may be bigger, alone). */
const BATCH_MAX_BYTES = 8 * 1024 * 1024;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface StoreOptions {
  /** Most deliveries applied in one transaction (default 50). */
  batchMax?: number;
  /** Most ingest transactions at work at once (default 1). */
  concurrency?: number;
  /**
   * Hold a transaction's change writes and send them together (default true). Off, each is
   * sent and awaited as it is decided: the plain path every failure falls back to, and what
   * tests compare the fast path against.
   */
  pipelined?: boolean;
  /**
   * Told after each ingest or replay transaction commits: how many deliveries it carried, the
   * changes it put on the feed, and how long it took (for the metrics).
   */
  onCommitted?: CommitObserver;
  /** Most events applied in one transaction (default 100); a delivery with more goes in parts. */
  partEvents?: number;
  /** Most events one delivery may carry (WEBHOOK_MAX_EVENTS, default 1,000): more is kept whole as rejected. */
  maxEvents?: number;
  /** Most rejected deliveries kept per sender (REJECTED_MAX_PER_SENDER); past it, RejectedBoundReached. Undefined: no bound. */
  rejectedPerSender?: number | undefined;
}

export function createDirectoryStore(db: Database, options: StoreOptions = {}): DirectoryStore {
  // Rows are never removed (deletes leave tombstones), so parent ids can be cached: tenants at
  // once, other parents once they have a tenant (until then a child may still give them one).
  const parentIds = new Map<string, string>();

  const transactions: Transactions = { db, parentIds, onCommitted: options.onCommitted };

  // Writes are pipelined first. A transaction that fails for a reason other than a retryable
  // conflict is applied again one write at a time, and a batch one delivery at a time: the
  // delivery at fault fails alone, its batchmates are stored, and no error is final until it
  // has been seen without pipelining.
  const pipelined = options.pipelined ?? true;
  const runBatch = async (batch: Delivery[]): Promise<Settled<IngestResult>[]> => {
    const alone = (delivery: Delivery, pipelined: boolean) =>
      ingestTogether(transactions, [delivery], pipelined).then(
        ([value]): Settled<IngestResult> => ({ ok: true, value: value! }),
        (error: unknown): Settled<IngestResult> => ({ ok: false, error }),
      );
    if (batch.length === 1) {
      if (!pipelined) return [await alone(batch[0]!, false)];
      const first = await alone(batch[0]!, true);
      return [first.ok ? first : await alone(batch[0]!, false)];
    }
    try {
      return (await ingestTogether(transactions, batch, pipelined)).map((value): Settled<IngestResult> => ({ ok: true, value }));
    } catch {
      // One after the other, in arrival order: as the batch would have applied them.
      const settled: Settled<IngestResult>[] = [];
      for (const delivery of batch) settled.push(await alone(delivery, false));
      return settled;
    }
  };
  const batcher = createBatcher<Delivery, Settled<IngestResult>>({
    // One span per batch, linked to the webhook of each delivery in it (a batch holds many).
    run: (batch) =>
      inSpan(
        'ingest batch',
        { root: true, links: linksTo(batch.map((d) => d.trace)), attributes: { 'dsync.deliveries': batch.length, 'dsync.instance': tracing.instance } },
        () => runBatch(batch),
      ),
    maxBatch: options.batchMax ?? 50,
    // One statement carries the batch's bodies: keep it to a few MiB, whatever the batch size.
    weigh: (delivery) => delivery.bytes ?? 0,
    maxWeight: BATCH_MAX_BYTES,
    maxInFlight: options.concurrency ?? 1,
  });

  async function submit(delivery: Delivery): Promise<IngestResult> {
    const settled = await batcher.submit(delivery);
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  const partEvents = options.partEvents ?? 100;
  const maxEvents = options.maxEvents ?? 1000;

  async function ingest(received: Delivery, ingestOptions: { onStored?: (opened: IngestResult) => void } = {}): Promise<IngestResult> {
    const trace = traceParent();
    const delivery = trace ? { ...received, trace } : received;
    const taken = delivery.events.length > maxEvents ? oversized(delivery, maxEvents) : delivery;
    const bound = options.rejectedPerSender;
    if (bound !== undefined && taken.sender !== undefined && taken.events.some((e) => e.rejected !== undefined)) {
      if (!(await rejectedRoomFor(db, taken, bound))) throw new RejectedBoundReached(taken.sender, bound);
    }
    // An opening already (ingestInParts' own, or a test's): stored as it says, nothing applied.
    return taken.events.length > partEvents && !taken.opensParts ? ingestInParts(taken, ingestOptions.onStored) : submit(taken);
  }

  /**
   * A delivery with more events than one transaction takes (a big Polis batch), applied in
   * parts. First it is stored whole (keys claimed, body kept) as `applying`, with nothing
   * applied: from then on it cannot be lost, and a retry is a duplicate. Then its events go a
   * part at a time, each part a transaction queued behind whatever arrived meanwhile, so one
   * sender's big batch holds up other senders for one part at a time, not for all of it. The
   * last part gives the row its status. A process that stops half way leaves the row
   * `applying`; it is applied again whole later (src/unfinished.ts), which the ordering guard makes
   * safe to repeat.
   */
  async function ingestInParts(delivery: Delivery, onStored?: (opened: IngestResult) => void): Promise<IngestResult> {
    const opened = await submit({ ...delivery, opensParts: true });
    if (opened.status === 'duplicate') return opened;
    onStored?.(opened);
    let status: DeliveryStatus | undefined;
    let applied = 0;
    let rejected = 0;
    for (let start = 0; start < delivery.events.length; start += partEvents) {
      const last = start + partEvents >= delivery.events.length;
      const part = await submit({
        ...delivery,
        keys: [],
        bytes: 0,
        events: delivery.events.slice(start, start + partEvents),
        part: { deliveryId: opened.deliveryId, last, statusSoFar: status },
      });
      status = combinedStatus(status, part.status as DeliveryStatus);
      applied += part.applied;
      rejected += part.rejected;
    }
    return { deliveryId: opened.deliveryId, status: status!, applied, rejected };
  }

  async function replay(deliveryId: string, delivery: Delivery): Promise<IngestResult> {
    return inRetriedTransaction(transactions, false, 1, async (work) => {
      const [row] = resultRows<{ id: string }>(
        await work.tx.execute(sql`select id from ${deliveries} where id = ${deliveryId}::uuid for update`),
      );
      if (!row) throw new DeliveryNotFound(deliveryId);
      const applied = await applyEvents(work, deliveryId, delivery);
      await finish(work, [applied.record]);
      return applied.result;
    });
  }

  return { ingest, replay };
}
