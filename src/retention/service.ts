// Retention in the running service: every RETENTION_INTERVAL, one instance at a time (a named
// database lock; the others skip that round), prunes the delivery log and the change feed in
// small batches, yielding between batches so webhooks and queries keep their turn.
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/open.js';
import { deleteDeliveries, pruneChanges, pruneRejected, pruneRuns, stripDeliveries, type DeliveryPosition } from './prune.js';

const DAY_MS = 86_400_000;

export interface RetentionPolicy {
  /** Delivery bodies and outcomes are removed after this many days; undefined: kept for ever. */
  deliveryDays: number | undefined;
  /** Delivery rows (and their idempotency keys) stay at least this many days. */
  deliveryKeyDays: number;
  /** Rejected deliveries are removed after this many days; undefined: kept until replayed. */
  rejectedDays?: number | undefined;
  /** Changes are removed from the feed after this many days; undefined: kept for ever. */
  changesDays: number | undefined;
  intervalMs: number;
  /** Rows per statement. */
  batchSize: number;
}

export interface RetentionReport {
  /** Another instance held the lock: this one did nothing. */
  skipped: boolean;
  deliveriesStripped: number;
  deliveriesDeleted: number;
  changesDeleted: number;
  /** Reconciliation runs, which go with their deliveries. */
  runsDeleted: number;
  /** Rejected deliveries past REJECTED_RETENTION_DAYS. */
  rejectedDeleted: number;
  /** The feed's horizon after the run, if it moved. */
  horizon: number | undefined;
}

export interface RetentionEvents {
  pruned(what: 'delivery_bodies' | 'deliveries' | 'changes' | 'reconcile_runs' | 'rejected_deliveries', rows: number): void;
  run(outcome: 'completed' | 'skipped' | 'failed', seconds: number): void;
}

export interface RetentionService {
  /** One round now (tests, and the first round after start); waits for a round in progress. */
  runOnce(): Promise<RetentionReport>;
  stop(): Promise<void>;
}

export function createRetentionService(
  database: Pick<DatabaseHandle, 'db' | 'exclusive'>,
  policy: RetentionPolicy,
  logger: Logger,
  events?: RetentionEvents,
): RetentionService {
  const { db } = database;
  let stopped = false;
  let running: Promise<RetentionReport> | undefined;

  const prune = async (report: RetentionReport): Promise<void> => {
    const now = Date.now();
    // Changes first: a delivery row stays while changes point at it.
    if (policy.changesDays !== undefined) {
      const before = new Date(now - policy.changesDays * DAY_MS);
      for (;;) {
        if (stopped) return;
        const { deleted, horizon } = await pruneChanges(db, before, policy.batchSize);
        report.changesDeleted += deleted;
        if (horizon !== undefined) report.horizon = horizon;
        events?.pruned('changes', deleted);
        if (deleted < policy.batchSize) break;
        await yieldTurn();
      }
    }
    if (policy.rejectedDays !== undefined) {
      const before = new Date(now - Math.max(policy.rejectedDays, policy.deliveryKeyDays) * DAY_MS);
      for (;;) {
        if (stopped) return;
        const n = await pruneRejected(db, before, policy.batchSize);
        report.rejectedDeleted += n;
        events?.pruned('rejected_deliveries', n);
        if (n < policy.batchSize) break;
        await yieldTurn();
      }
    }
    if (policy.deliveryDays === undefined) return;
    // Whole rows first, so a row about to go is not rewritten without its body on the way.
    const deleteBefore = new Date(now - Math.max(policy.deliveryDays, policy.deliveryKeyDays) * DAY_MS);
    let position: DeliveryPosition | undefined;
    do {
      if (stopped) return;
      const { deleted, next } = await deleteDeliveries(db, deleteBefore, position, policy.batchSize);
      report.deliveriesDeleted += deleted;
      events?.pruned('deliveries', deleted);
      position = next;
      await yieldTurn();
    } while (position);
    const stripBefore = new Date(now - policy.deliveryDays * DAY_MS);
    for (;;) {
      if (stopped) return;
      const n = await stripDeliveries(db, stripBefore, policy.batchSize);
      report.deliveriesStripped += n;
      events?.pruned('delivery_bodies', n);
      if (n < policy.batchSize) break;
      await yieldTurn();
    }
    for (;;) {
      if (stopped) return;
      const n = await pruneRuns(db, deleteBefore, policy.batchSize);
      report.runsDeleted += n;
      events?.pruned('reconcile_runs', n);
      if (n < policy.batchSize) break;
      await yieldTurn();
    }
  };

  const round = async (): Promise<RetentionReport> => {
    const started = performance.now();
    const report: RetentionReport = { skipped: false, deliveriesStripped: 0, deliveriesDeleted: 0, changesDeleted: 0, runsDeleted: 0, rejectedDeleted: 0, horizon: undefined };
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const outcome = await database.exclusive('retention', () => prune(report));
      report.skipped = !outcome.ran;
      events?.run(report.skipped ? 'skipped' : 'completed', seconds());
      const removed = report.deliveriesStripped + report.deliveriesDeleted + report.changesDeleted + report.runsDeleted + report.rejectedDeleted;
      if (removed > 0) {
        logger.info(
          {
            deliveriesStripped: report.deliveriesStripped,
            deliveriesDeleted: report.deliveriesDeleted,
            changesDeleted: report.changesDeleted,
            runsDeleted: report.runsDeleted,
            rejectedDeleted: report.rejectedDeleted,
            seconds: Number(seconds().toFixed(3)),
          },
          'retention pruned old deliveries and changes',
        );
      }
      return report;
    } catch (error) {
      events?.run('failed', seconds());
      throw error;
    }
  };

  const runOnce = (): Promise<RetentionReport> => {
    if (running) return running.catch(() => undefined).then(() => runOnce());
    running = round().finally(() => {
      running = undefined;
    });
    return running;
  };

  const scheduled = () => {
    if (running || stopped) return;
    runOnce().catch((error: unknown) => logger.warn({ err: error }, 'retention could not prune; it tries again next round'));
  };
  const enabled = policy.deliveryDays !== undefined || policy.changesDays !== undefined || policy.rejectedDays !== undefined;
  const timer = enabled ? setInterval(scheduled, policy.intervalMs) : undefined;
  timer?.unref();
  // The first round soon after start, not a whole interval later.
  const first = enabled ? setTimeout(scheduled, Math.min(policy.intervalMs, 30_000)) : undefined;
  first?.unref();

  return {
    runOnce,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(first);
      await running?.catch(() => undefined);
    },
  };
}
