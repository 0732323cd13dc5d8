// The statements retention runs, one small batch each, so no statement holds locks or builds
// WAL for long while webhooks keep arriving. Each is a single statement: what it removes and
// the record of having removed it commit together.
//
// Deliveries age in two steps. Past DELIVERY_RETENTION_DAYS the body and outcomes go (the
// bulk of the table); the row stays while its idempotency keys must still catch a sender's
// late retry (DELIVERY_KEY_RETENTION_DAYS) and while changes in the feed point at it. Then the
// row goes, and its keys with it. A `rejected` delivery is kept whole for much longer
// (REJECTED_RETENTION_DAYS): it is the copy a replay needs, and replaying it changes its status.
// One `applying` is left alone: it is being applied, or is about to be finished (src/unfinished.ts).
import { sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { changes, deliveries, feedHorizon, reconcileRuns } from '../db/schema.js';

/** Where a keyset walk through old deliveries has got to, within one run. */
export interface DeliveryPosition {
  receivedAt: string;
  id: string;
}

/** Removes the body and outcomes of up to `limit` deliveries received before `before`. */
export async function stripDeliveries(db: Database, before: Date, limit: number): Promise<number> {
  // The partial index deliveries_unpruned holds exactly the candidates, oldest first.
  const rows = resultRows<{ n: number }>(
    await db.execute(sql`
      with batch as (
        select id from ${deliveries}
        where pruned_at is null and status not in ('rejected', 'applying') and received_at < ${before.toISOString()}::timestamptz
        order by received_at
        limit ${limit}
      ), stripped as (
        update ${deliveries} d set body = null, outcomes = null, pruned_at = now()
        from batch where d.id = batch.id
        returning 1
      )
      select count(*)::int as n from stripped`),
  );
  return rows[0]?.n ?? 0;
}

/**
 * Deletes up to `limit` deliveries received before `before` that no change points at, walking
 * forward from `after` (a run passes each batch's position to the next, so rows that must stay
 * are looked at once a run, not once a batch). Undefined position: the walk is over.
 */
export async function deleteDeliveries(
  db: Database,
  before: Date,
  after: DeliveryPosition | undefined,
  limit: number,
): Promise<{ deleted: number; next: DeliveryPosition | undefined }> {
  const from = after
    ? sql`and (received_at, id) > (${after.receivedAt}::timestamptz, ${after.id}::uuid)`
    : sql``;
  const rows = resultRows<{ deleted: number; received_at: string | null; id: string | null; seen: number }>(
    await db.execute(sql`
      with candidates as (
        select id, received_at from ${deliveries}
        where status not in ('rejected', 'applying') and received_at < ${before.toISOString()}::timestamptz ${from}
        order by received_at, id
        limit ${limit}
      ), deleted as (
        delete from ${deliveries} d using candidates c
        where d.id = c.id and not exists (select 1 from ${changes} ch where ch.delivery_id = d.id)
        returning 1
      ), last as (
        select received_at::text as received_at, id::text as id from candidates order by received_at desc, id desc limit 1
      )
      select (select count(*)::int from deleted) as deleted, (select count(*)::int from candidates) as seen,
        (select received_at from last) as received_at, (select id from last) as id`),
  );
  const row = rows[0];
  const more = row && row.seen === limit && row.received_at !== null && row.id !== null;
  return { deleted: row?.deleted ?? 0, next: more ? { receivedAt: row.received_at!, id: row.id! } : undefined };
}

/**
 * Deletes up to `limit` of the oldest changes recorded before `before`, and moves the feed's
 * horizon to the last one deleted, in one statement. Only a prefix of the feed is ever
 * deleted (it stops at the first change recorded since `before`, even if a later seq is older),
 * so "everything at or below the horizon is gone, nothing above it is" stays true.
 */
export async function pruneChanges(db: Database, before: Date, limit: number): Promise<{ deleted: number; horizon: number | undefined }> {
  const rows = resultRows<{ deleted: number; through: string | null }>(
    await db.execute(sql`
      with head as (
        select seq, recorded_at from ${changes} order by seq limit ${limit}
      ), cut as (
        select max(seq) as through from head
        where seq < coalesce((select min(seq) from head where recorded_at >= ${before.toISOString()}::timestamptz), 9223372036854775807)
      ), deleted as (
        delete from ${changes} where seq <= (select through from cut) returning 1
      ), horizon as (
        insert into ${feedHorizon} (id, pruned_through)
        select 1, through from cut where through is not null
        on conflict (id) do update set pruned_through = greatest(${feedHorizon.prunedThrough}, excluded.pruned_through)
        returning 1
      )
      select (select count(*)::int from deleted) as deleted, (select through::text from cut) as through,
        (select count(*) from horizon) as written`),
  );
  const row = rows[0];
  return { deleted: row?.deleted ?? 0, horizon: row?.through ? Number(row.through) : undefined };
}

/**
 * Removes up to `limit` reconciliation runs that finished before `before`, as their deliveries
 * go. A tenant's newest successful run stays whatever its age: the schedule reads when it was,
 * and the next run reads the provider's log from where it left it.
 */
export async function pruneRuns(db: Database, before: Date, limit: number): Promise<number> {
  const rows = resultRows<{ n: number }>(
    await db.execute(sql`
      with kept as (
        select distinct on (source, tenant_external_id, product) id from ${reconcileRuns}
        where status = 'succeeded' and not dry_run
        order by source, tenant_external_id, product, started_at desc
      ), batch as (
        select id from ${reconcileRuns}
        where finished_at < ${before.toISOString()}::timestamptz and id not in (select id from kept)
        order by finished_at
        limit ${limit}
      ), gone as (
        delete from ${reconcileRuns} r using batch where r.id = batch.id returning 1
      )
      select count(*)::int as n from gone`),
  );
  return rows[0]?.n ?? 0;
}

/**
 * Deletes up to `limit` rejected deliveries received before `before` (REJECTED_RETENTION_DAYS,
 * long: they are what a replay needs once a new version reads them) that no change points at.
 * A sender whose events cannot be read may keep sending them; this is what bounds what it keeps.
 */
export async function pruneRejected(db: Database, before: Date, limit: number): Promise<number> {
  const rows = resultRows<{ n: number }>(
    await db.execute(sql`
      with batch as (
        select id from ${deliveries} d
        where status = 'rejected' and received_at < ${before.toISOString()}::timestamptz
          and not exists (select 1 from ${changes} ch where ch.delivery_id = d.id)
        order by received_at
        limit ${limit}
      ), gone as (
        delete from ${deliveries} d using batch where d.id = batch.id returning 1
      )
      select count(*)::int as n from gone`),
  );
  return rows[0]?.n ?? 0;
}
