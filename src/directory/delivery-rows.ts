// A delivery's own row: claimed with its keys (idempotency), counted again on a repeat, and
// given what became of its events once they are applied, with the transaction's feed entries.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { deliveries, deliveryKeys } from '../db/schema.js';
import { resultRows } from '../db/result.js';
import { uuidArray } from '../db/uuid-array.js';
import { appendToFeed } from './feed.js';
import type { Database } from '../db/open.js';
import type { Tx } from './rows.js';
import type { Delivery, DeliveryStatus, IngestResult, Json } from './types.js';
import type { Work } from './work.js';

/** What a delivery's row is given once its events are applied. */
export interface DeliveryRecord {
  id: string;
  status: DeliveryStatus;
  outcomes: Json[];
  reason: string | null;
  eventTypes: string[];
  /** A part of a delivery applied in parts: its outcomes and reason add to the row's. */
  append?: boolean;
}

/**
 * A delivery with more events than a sender can be configured to batch (Polis: its
 * DSYNC_WEBHOOK_BATCH_SIZE, itself capped by its store's page limit) is not applied: it is kept
 * whole as rejected, with the reason, so nothing signed is lost, and a replay applies it once
 * WEBHOOK_MAX_EVENTS allows. One signed body cannot make the service do without bound.
 */
export function oversized(delivery: Delivery, maxEvents: number): Delivery {
  const types = [...new Set(delivery.events.map((e) => e.type))].slice(0, 5).join(', ');
  return {
    ...delivery,
    events: [
      {
        type: delivery.events[0]?.type ?? '',
        changes: [],
        rejected: `${delivery.events.length} events in one delivery (${types}), more than the ${maxEvents} taken (WEBHOOK_MAX_EVENTS): kept whole; raise the setting and replay it`,
      },
    ],
  };
}

/**
 * Claims each delivery's keys and records it, for the whole batch in one statement (of the
 * same text whatever the batch: the batch travels as one JSON parameter, so the statement is
 * prepared once). Per delivery, in order, its id, or undefined when every one of its keys is
 * already claimed (a repeat: nothing is written for it). A concurrent delivery with the same
 * key makes this wait for it to commit, then conflict: duplicates are caught across processes,
 * not only within one. Keys go in first, under ids made here, so a repeat leaves no row behind
 * and needs no rollback (their foreign key is checked at the end of the statement).
 */
export async function claimAll(tx: Tx, batch: Delivery[]): Promise<(string | undefined)[]> {
  const ids = batch.map(() => randomUUID());
  const rows = batch.map((d, i) => ({
    i,
    id: ids[i],
    source: d.source,
    event_types: d.events.map((e) => e.type),
    signed_at: d.signedAt.toISOString(),
    body: d.body,
    keys: d.keys,
    sender: d.sender ?? null,
  }));
  const claimed = resultRows<{ id: string }>(
    await tx.execute(sql`
      with d as (
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as d (i int, id uuid, source text, event_types text[], signed_at timestamptz, body jsonb, keys text[], sender text)
      ), keyed as (
        insert into ${deliveryKeys} (key, delivery_id)
        select k.key, d.id from d cross join lateral unnest(d.keys) with ordinality as k (key, j)
        order by d.i, k.j
        on conflict do nothing
        returning delivery_id
      )
      insert into ${deliveries} (id, source, event_types, status, signed_at, body, outcomes, sender)
      -- A body of JSON null (kept as rejected) comes out of the record as SQL's NULL.
      select d.id, d.source, d.event_types, 'unchanged', d.signed_at, coalesce(d.body, 'null'::jsonb), '[]'::jsonb, d.sender
      from d where d.id in (select delivery_id from keyed)
      order by d.i
      returning id`),
  );
  // A repeat only when every key is known: a delivery with one new key is new (Polis signs
  // each header apart, so the same body sent a millisecond later shares a key with the first),
  // and keeps just its new keys; any subset of a stored delivery's keys is that delivery again.
  const stored = new Set(claimed.map((r) => r.id));
  return ids.map((id) => (stored.has(id!) ? id : undefined));
}

/**
 * Whether a delivery with an event that cannot be read may be stored: true for a repeat of one
 * already stored (answered as a duplicate, whatever the bound), and while its sender keeps
 * fewer than `bound` rejected deliveries. Counted without a lock: instances storing at the
 * same moment may pass the bound by a few, never by a sender's whole stream.
 */
export async function rejectedRoomFor(db: Database, delivery: Delivery, bound: number): Promise<boolean> {
  const [row] = resultRows<{ known: number; kept: number }>(
    await db.execute(sql`
      select
        (select count(*)::int from ${deliveryKeys} where key in (select jsonb_array_elements_text(${JSON.stringify(delivery.keys)}::jsonb))) as known,
        (select count(*)::int from (
          select 1 from ${deliveries} where status = 'rejected' and sender = ${delivery.sender ?? ''} limit ${bound}
        ) as kept) as kept`),
  );
  return row!.known === delivery.keys.length || row!.kept < bound;
}

/** Counts a repeat on the delivery it repeats. */
export async function recordDuplicate(tx: Tx, delivery: Delivery): Promise<IngestResult> {
  const keys = sql.join(
    delivery.keys.map((key) => sql`${key}`),
    sql`, `,
  );
  const [original] = resultRows<{ id: string }>(
    await tx.execute(sql`
      update ${deliveries} set duplicates = duplicates + 1, last_duplicate_at = ${new Date().toISOString()}::timestamptz
      where id = (select delivery_id from ${deliveryKeys} where key in (${keys}) limit 1)
      returning id`),
  );
  if (!original) throw new Error('duplicate delivery key without a stored delivery');
  return { deliveryId: original.id, status: 'duplicate', applied: 0, rejected: 0 };
}

/**
 * Records what became of each delivery and appends the transaction's changes to the feed,
 * in one statement: the feed lock is taken last, just before the commit.
 */
export async function finish(work: Work, records: DeliveryRecord[]): Promise<void> {
  if (records.length === 0) return;
  // One JSON parameter for any number of records: the same text every time.
  const rows = JSON.stringify(records.map((r) => [r.id, r.status, r.outcomes, r.reason, r.eventTypes, r.append === true]));
  // A part's outcomes and reason add to what the delivery's earlier parts left.
  const record = sql`
    update ${deliveries} as d
    set status = r.v ->> 1,
      outcomes = case when (r.v ->> 5)::boolean then coalesce(d.outcomes, '[]'::jsonb) || (r.v -> 2) else r.v -> 2 end,
      reason = case when (r.v ->> 5)::boolean then nullif(concat_ws('; ', d.reason, r.v ->> 3), '') else r.v ->> 3 end,
      event_types = case when (r.v ->> 5)::boolean then d.event_types else array(select jsonb_array_elements_text(r.v -> 4)) end
    from jsonb_array_elements(${rows}::jsonb) as r (v)
    where d.id = (r.v ->> 0)::uuid and d.id = any(${uuidArray(records.map((r) => r.id))})`;
  await appendToFeed(work.tx, work.feed, [record]);
}
