// An ingest transaction: retried after a deadlock or serialization failure, its learned parent
// ids kept once it commits; and a batch of deliveries applied in one, in arrival order (group
// commit), each delivery's keys claimed and its rows read ahead in one round trip.
import { inSpan } from '../lib/tracing.js';
import type { Database } from '../db/open.js';
import { isRetryable } from '../db/errors.js';
import { applyEvents, lockAhead } from './apply.js';
import { claimAll, finish, recordDuplicate, type DeliveryRecord } from './delivery-rows.js';
import type { FeedEntry } from './feed.js';
import { combinedStatus, type Delivery, type IngestResult } from './types.js';
import { newWork, settle, type Work } from './work.js';

const MAX_ATTEMPTS = 6;

/** Told after each transaction commits: how many deliveries, the feed entries, how long it took. */
export type CommitObserver = (committed: { deliveries: number; changes: readonly FeedEntry[]; seconds: number }) => void;

/** What the store's transactions share: its database and the parent ids known so far. */
export interface Transactions {
  db: Database;
  parentIds: Map<string, string>;
  onCommitted?: CommitObserver | undefined;
}

/**
 * Runs `work` in a transaction, again after a deadlock or serialization failure (deliveries
 * touching the same rows in a different order); parent ids it learned are cached once it
 * has committed.
 */
export async function inRetriedTransaction<T>(
  { db, parentIds, onCommitted }: Transactions,
  pipelined: boolean,
  deliveryCount: number,
  work: (w: Work) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const learned = new Map<string, string>();
    const started = performance.now();
    let feed: FeedEntry[] = [];
    try {
      const result = await inSpan('ingest commit', { attributes: { 'dsync.attempt': attempt, 'dsync.deliveries': deliveryCount } }, () =>
        db.transaction((tx) => work(newWork(tx, pipelined, parentIds, learned, (feed = [])))),
      );
      for (const [k, v] of learned) parentIds.set(k, v);
      onCommitted?.({ deliveries: deliveryCount, changes: feed, seconds: (performance.now() - started) / 1000 });
      return result;
    } catch (error) {
      if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}

/** Applies deliveries in one transaction, in order; each result is its delivery's. */
export async function ingestTogether(transactions: Transactions, batch: Delivery[], pipelined: boolean): Promise<IngestResult[]> {
  return inRetriedTransaction(transactions, pipelined, batch.length, async (work) => {
    const results: IngestResult[] = [];
    const records: DeliveryRecord[] = [];
    // A part continues a delivery already stored: only the others are claimed.
    const fresh = batch.filter((d) => !d.part);
    const applying = batch.filter((d) => !d.opensParts);
    // Sent together: one round trip for the claim and the reads ahead.
    const [claimed] = await Promise.all([
      fresh.length > 0 ? claimAll(work.tx, fresh) : [],
      applying.length > 1 ? lockAhead(work, applying) : undefined,
    ]);
    let next = 0;
    for (const delivery of batch) {
      if (delivery.part) {
        const { deliveryId, last, statusSoFar } = delivery.part;
        const applied = await applyEvents(work, deliveryId, delivery);
        // Until its last part the row says it is being applied; then what all its parts did.
        const status = last ? combinedStatus(statusSoFar, applied.record.status) : 'applying';
        records.push({ ...applied.record, status, append: true });
        results.push(applied.result);
        continue;
      }
      const deliveryId = claimed[next++];
      if (deliveryId === undefined) {
        results.push(await recordDuplicate(work.tx, delivery));
        continue;
      }
      if (delivery.opensParts) {
        records.push({ id: deliveryId, status: 'applying', outcomes: [], reason: null, eventTypes: delivery.events.map((e) => e.type) });
        results.push({ deliveryId, status: 'applying', applied: 0, rejected: 0 });
        continue;
      }
      const applied = await applyEvents(work, deliveryId, delivery);
      records.push(applied.record);
      results.push(applied.result);
    }
    await settle(work);
    await finish(work, records);
    return results;
  });
}
