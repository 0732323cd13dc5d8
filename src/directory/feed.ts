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
// applied something take it.
import { sql } from 'drizzle-orm';
import { changes } from '../db/schema.js';
import type { Tx } from './rows.js';
import type { ChangeAction, EntityKind } from './types.js';

/** NOTIFY channel; the payload is the highest seq the transaction wrote. */
export const FEED_CHANNEL = 'directory_changes';

// Any fixed number, distinct from the migration lock in db/open.ts.
const FEED_LOCK = 7_255_810_002;

export interface FeedEntry {
  tenantId: string | null;
  entity: EntityKind;
  entityId: string;
  action: ChangeAction;
  occurredAt: Date;
}

/** Returns the seqs written, in order. */
export async function appendToFeed(
  tx: Tx,
  deliveryId: string,
  entries: FeedEntry[],
): Promise<number[]> {
  if (entries.length === 0) return [];
  await tx.execute(sql`select pg_advisory_xact_lock(${FEED_LOCK}::bigint)`);
  const rows = await tx
    .insert(changes)
    .values(entries.map((e) => ({ ...e, deliveryId })))
    .returning({ seq: changes.seq });
  const seqs = rows.map((r) => r.seq).sort((a, b) => a - b);
  await tx.execute(sql`select pg_notify(${FEED_CHANNEL}, ${String(seqs.at(-1))})`);
  return seqs;
}
