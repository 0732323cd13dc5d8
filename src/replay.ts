// Replays stored deliveries through today's adapters and the directory core: what an older
// version rejected (or recorded as ignored) is read again and applied where it now can be.
// Each delivery is re-parsed from its stored (redacted) body with the keys and signing time it
// arrived with, so its changes carry the versions they had then: the ordering guard treats
// them exactly as on arrival, an old event never overwrites newer state, and replaying twice
// changes nothing the second time.
import { and, asc, eq, gt, gte, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from './db/open.js';
import { deliveries, deliveryKeys } from './db/schema.js';
import type { DirectoryStore } from './directory/store.js';
import type { DeliveryStatus, Json } from './directory/types.js';
import type { SourceAdapter } from './sources/types.js';

export interface ReplayFilter {
  /** Which deliveries: by their current status (default `rejected`), or `all`. */
  status?: DeliveryStatus | 'all';
  source?: string;
  /** Received at or after. */
  since?: Date;
  /** Received before. */
  before?: Date;
  /** One delivery, whatever its status. */
  deliveryId?: string;
}

export interface ReplayProgress {
  done: number;
  total: number;
}

export interface ReplayReport {
  /** Deliveries that matched the filter. */
  matched: number;
  /** Replayed (all matched, unless a dry run or a source has no adapter here). */
  replayed: number;
  /** `rejected -> applied: 3`: each status before and after, counted. */
  transitions: Record<string, number>;
  /** Changes that reached the change feed. */
  applied: number;
  /** Events still unreadable after the replay. */
  stillRejected: number;
  /** Deliveries of a source this process has no adapter for, by source. */
  skipped: Record<string, number>;
}

const PAGE = 100;

/** The filter as SQL; `all` and a single id ignore the status. */
function conditions(filter: ReplayFilter): SQL | undefined {
  const parts: SQL[] = [];
  const status = filter.status ?? 'rejected';
  if (filter.deliveryId) parts.push(eq(deliveries.id, filter.deliveryId));
  else if (status !== 'all') parts.push(eq(deliveries.status, status));
  if (filter.source) parts.push(eq(deliveries.source, filter.source));
  if (filter.since) parts.push(gte(deliveries.receivedAt, filter.since));
  if (filter.before) parts.push(lt(deliveries.receivedAt, filter.before));
  // A reconciliation's changes were read from the provider's API, not from a webhook body:
  // there is nothing to read again (a new run reads the provider afresh).
  parts.push(sql`${deliveries.source} not like 'reconcile:%'`);
  // Retention has removed a pruned delivery's body: nothing left to read.
  parts.push(isNull(deliveries.prunedAt));
  return and(...parts);
}

export async function countMatching(db: Database, filter: ReplayFilter): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(deliveries).where(conditions(filter));
  return Number(row?.n ?? 0);
}

export async function replayDeliveries(
  db: Database,
  store: DirectoryStore,
  sources: readonly SourceAdapter[],
  filter: ReplayFilter,
  options: { dryRun?: boolean; onProgress?: (progress: ReplayProgress) => void } = {},
): Promise<ReplayReport> {
  const bySource = new Map(sources.map((s) => [s.name, s]));
  const report: ReplayReport = { matched: 0, replayed: 0, transitions: {}, applied: 0, stillRejected: 0, skipped: {} };
  const total = await countMatching(db, filter);
  // Keyset pages in arrival order, so deliveries replayed meanwhile (whose status changes)
  // neither shift the pages nor come round twice.
  let after: { receivedAt: Date; id: string } | undefined;
  for (;;) {
    const page = await db
      .select({ id: deliveries.id, source: deliveries.source, status: deliveries.status, signedAt: deliveries.signedAt, receivedAt: deliveries.receivedAt, body: deliveries.body })
      .from(deliveries)
      .where(
        and(
          conditions(filter),
          after ? or(gt(deliveries.receivedAt, after.receivedAt), and(eq(deliveries.receivedAt, after.receivedAt), gt(deliveries.id, after.id))) : undefined,
        ),
      )
      .orderBy(asc(deliveries.receivedAt), asc(deliveries.id))
      .limit(PAGE);
    for (const stored of page) {
      report.matched++;
      const source = bySource.get(stored.source);
      if (!source) {
        report.skipped[stored.source] = (report.skipped[stored.source] ?? 0) + 1;
        continue;
      }
      const keys = (await db.select({ key: deliveryKeys.key }).from(deliveryKeys).where(eq(deliveryKeys.deliveryId, stored.id))).map((k) => k.key);
      const delivery = source.parse(stored.body as Json, { keys, signedAt: stored.signedAt });
      if (options.dryRun) {
        const unreadable = delivery.events.filter((e) => e.rejected !== undefined).length;
        report.stillRejected += unreadable;
        const would = unreadable > 0 ? 'rejected' : 'readable';
        report.transitions[`${stored.status} -> ${would}`] = (report.transitions[`${stored.status} -> ${would}`] ?? 0) + 1;
      } else {
        const result = await store.replay(stored.id, delivery);
        report.replayed++;
        report.applied += result.applied;
        report.stillRejected += result.rejected;
        const step = `${stored.status} -> ${result.status}`;
        report.transitions[step] = (report.transitions[step] ?? 0) + 1;
      }
      options.onProgress?.({ done: report.matched, total });
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = { receivedAt: last.receivedAt, id: last.id };
  }
  return report;
}
