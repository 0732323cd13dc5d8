// Appends applied changes to the change feed and wakes listeners, inside the delivery's
// transaction.
//
// Why a lock: a bigserial hands out numbers when rows are inserted, not when transactions
// commit, so a reader that remembers "last seq seen" can skip a row whose transaction commits
// after a higher seq became visible. Alternatives that filter by transaction id (read only
// below the oldest running xid) avoid the lock but order rows by xid, which is not the order
// two transactions touching the same entity applied their changes. So the feed rows of a
// transaction are inserted last, under a transaction-level advisory lock that Postgres
// releases only after the commit is visible: the next transaction to take it sees every lower
// seq already committed, seq order is commit order, and a reader of `seq > last` never skips
// or repeats. The lock covers only the feed insert and the commit, and only transactions that
// applied something take it. Lock, insert and notify go in one statement: each round trip to
// the database costs more than the SQL in it.
import { sql, type SQL } from 'drizzle-orm';
import { resultRows } from '../db/result.js';
import { changes } from '../db/schema.js';
import type { Tx } from './rows.js';
import type { ChangeAction, EntityKind } from './types.js';

/** NOTIFY channel; the payload is the highest seq the transaction wrote. */
export const FEED_CHANNEL = 'directory_changes';

// Any fixed number, distinct from the migration lock in db/open.ts.
const FEED_LOCK = 7_255_810_002;

export interface FeedEntry {
  /** The delivery whose change this is; null for one an app settings change caused. */
  deliveryId: string | null;
  /** The traceparent of the webhook that caused it (tracing on): pushes link back to it. */
  traceParent?: string | undefined;
  tenantId: string | null;
  entity: EntityKind;
  entityId: string;
  action: ChangeAction;
  occurredAt: Date;
}

/**
 * Appends the entries and notifies listeners, running `alongside` (other data-modifying
 * statements of the same transaction) in the same round trip. Returns the highest seq written,
 * or undefined when there was nothing to write. The entries travel as one JSON parameter, so
 * the statement's text is the same for any number of them (prepared once per connection).
 */
export async function appendToFeed(
  tx: Tx,
  entries: FeedEntry[],
  alongside: SQL[] = [],
): Promise<number | undefined> {
  if (entries.length === 0) {
    // One statement still: each as a step of it.
    if (alongside.length === 1) await tx.execute(alongside[0]!);
    else if (alongside.length > 1) {
      await tx.execute(sql`with ${sql.join(alongside.map((s, i) => sql`${sql.raw(`alongside${i}`)} as (${s})`), sql`, `)} select 1`);
    }
    return undefined;
  }
  const rows = JSON.stringify(
    entries.map((e) => [e.tenantId, e.entity, e.entityId, e.action, e.occurredAt.toISOString(), e.deliveryId, e.traceParent ?? null]),
  );
  // The insert reads from `lock`, so the lock is held before the first seq is drawn; rows are
  // numbered in the order given (the order the transaction applied them).
  const [row] = resultRows<{ seq: string }>(
    await tx.execute(sql`
      with lock as (select pg_advisory_xact_lock(${FEED_LOCK}::bigint))
      ${sql.join(alongside.map((s, i) => sql`, ${sql.raw(`alongside${i}`)} as (${s})`))}
      , inserted as (
        insert into ${changes} (tenant_id, entity, entity_id, action, occurred_at, delivery_id, trace_parent)
        select (e.v ->> 0)::uuid, e.v ->> 1, (e.v ->> 2)::uuid, e.v ->> 3, (e.v ->> 4)::timestamptz, (e.v ->> 5)::uuid, e.v ->> 6
        from lock, jsonb_array_elements(${rows}::jsonb) with ordinality as e (v, n)
        order by e.n
        returning seq
      )
      , last as (select max(seq) as seq from inserted)
      select last.seq::text as seq, pg_notify(${FEED_CHANNEL}, last.seq::text) from last`),
  );
  return row ? Number(row.seq) : undefined;
}
