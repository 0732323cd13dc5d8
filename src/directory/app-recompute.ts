// Recomputing a whole tenant's app values (its settings changed, a big group was renamed or
// deleted, or its members predate the hashes): a request row per tenant, worked through a chunk of
// members per transaction, so that webhooks for the tenant wait at most one chunk behind it. Any
// instance may take a step (the row is locked, skipping one another instance holds); what moved
// is fed as member UPDATED in the chunk's own transaction, so a step is all or nothing and a
// crash repeats at most one chunk, which feeds nothing twice (the hashes moved with it).
import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { appRecomputes, members } from '../db/schema.js';
import { recomputeMembers, type AttributeDefaults } from './app-values.js';
import { appendToFeed, type FeedEntry } from './feed.js';

export type RecomputeCause = 'settings' | 'group' | 'upgrade';

/** Members per transaction. */
export const RECOMPUTE_CHUNK = 500;

/**
 * Asks for the tenants `tenantIds` selects (one column, `tenant_id`) to be recomputed from their
 * first member: a request under way starts over, since what it did so far used what has changed.
 */
export function requestRecompute(tenantIds: SQL, cause: RecomputeCause): SQL {
  return sql`
    insert into ${appRecomputes} (tenant_id, cause)
    select distinct tenant_id, ${cause} from (${tenantIds}) t where tenant_id is not null
    on conflict (tenant_id) do update set cause = excluded.cause, after_created_at = null, after_id = null,
      requested_at = now(), done = 0, moved = 0`;
}

export interface RecomputeStep {
  tenantId: string;
  cause: RecomputeCause;
  /** Members worked out in this step, and those of them whose values moved (fed). */
  recomputed: number;
  moved: number;
  /** Since the request, this step included. */
  done: number;
  movedTotal: number;
  requestedAt: Date;
  /** The tenant has no members left to recompute: its request is gone. */
  finished: boolean;
}

/** One chunk of the oldest request no one else is working on; undefined when there is none. */
export async function recomputeStep(db: Database, defaults: AttributeDefaults, chunk = RECOMPUTE_CHUNK): Promise<RecomputeStep | undefined> {
  return db.transaction(async (tx) => {
    const [job] = resultRows<{
      tenant_id: string;
      cause: RecomputeCause;
      after_created_at: string | null;
      after_id: string | null;
      requested_ms: number;
      done: number;
      moved: number;
    }>(
      await tx.execute(sql`
        select tenant_id, cause, after_created_at::text, after_id, (extract(epoch from requested_at) * 1000)::float8 as requested_ms, done, moved from ${appRecomputes}
        order by requested_at limit 1 for update skip locked`),
    );
    if (!job) return undefined;
    const after =
      job.after_created_at === null || job.after_id === null
        ? sql``
        : sql`and (created_at, id) > (${job.after_created_at}::timestamptz, ${job.after_id}::uuid)`;
    const chunkRows = resultRows<{ id: string; created_at: string }>(
      await tx.execute(sql`
        select id, created_at::text from ${members}
        where tenant_id = ${job.tenant_id}::uuid ${after}
        order by created_at, id limit ${chunk}`),
    );
    const step = {
      tenantId: job.tenant_id,
      cause: job.cause,
      requestedAt: new Date(job.requested_ms),
    };
    const last = chunkRows.at(-1);
    if (!last) {
      await tx.execute(sql`delete from ${appRecomputes} where tenant_id = ${job.tenant_id}::uuid`);
      return { ...step, recomputed: 0, moved: 0, done: job.done, movedTotal: job.moved, finished: true };
    }
    const ids = chunkRows.map((r) => r.id);
    const { count, members: recomputed, write } = await recomputeMembers(tx, ids, defaults);
    const now = new Date();
    const feed: FeedEntry[] = recomputed
      // A member with no hash yet is one the feed's reader has not reached (just created): told,
      // unless this is the upgrade's first pass, which pushes nothing.
      .filter((m) => m.moved || (m.firstSeen && job.cause !== 'upgrade'))
      .map((m) => ({ deliveryId: null, tenantId: m.tenantId, entity: 'MEMBER', entityId: m.memberId, action: 'UPDATED', occurredAt: now }));
    const advance = sql`
      update ${appRecomputes} set after_created_at = ${last.created_at}::timestamptz, after_id = ${last.id}::uuid,
        done = done + ${count}, moved = moved + ${feed.length}
      where tenant_id = ${job.tenant_id}::uuid`;
    await appendToFeed(tx, feed, write ? [advance, write] : [advance]);
    return { ...step, recomputed: count, moved: feed.length, done: job.done + count, movedTotal: job.moved + feed.length, finished: false };
  });
}

/** Whether any tenant waits to be recomputed. */
export async function recomputePending(db: Database): Promise<boolean> {
  const rows = resultRows(await db.execute(sql`select 1 from ${appRecomputes} limit 1`));
  return rows.length > 0;
}
