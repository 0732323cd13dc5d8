// What committed changes do to members' app values (app-values.ts), worked out after the commit,
// in the background, by reading the change feed from where this last stopped: so a webhook's
// transaction does no more than before, and a batch of feed rows costs one pass for all of them.
//
// Touched: a member changed; the member of a membership changed; the live members of a group
// changed (renamed, deleted, back), as long as the group has at most `inlineGroupMax` of them. A
// bigger group's tenant is recomputed a chunk at a time instead (app-recompute.ts), so that a
// rename of "Everyone" is not one transaction of a hundred thousand members.
//
// Pushed: a touched member whose values moved, unless the last feed row that touched it was its
// own change or one of its memberships' (memberChanged delivers those as the member as it is
// when pushed, after that commit, so they carry the new values already). Only one instance
// reads at a time (the position row is locked, and skipped by the others); the position moves
// in the same transaction as the hashes and what is fed, so nothing is read twice or skipped.
import { sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { appValuesPosition, changes, groups, memberships } from '../db/schema.js';
import { requestRecompute } from './app-recompute.js';
import { recomputeMembers, type AttributeDefaults } from './app-values.js';
import { appendToFeed, type FeedEntry } from './feed.js';

/** How members' app values are followed. */
export interface AppValuesOptions {
  /** The mappings of tenants that set none (sources/index.ts defaultAttributeMappings). */
  attributeDefaults: AttributeDefaults;
  /** A changed group with more live members has its tenant recomputed a chunk at a time (default 1,000). */
  inlineGroupMax?: number;
}

export const INLINE_GROUP_MAX = 1000;
/** Feed rows read per transaction. */
const FOLLOW_BATCH = 250;

export interface FollowStep {
  /** Feed rows read, members worked out, and members fed as UPDATED. */
  rows: number;
  members: number;
  moved: number;
}

/** One batch of feed rows after the position; undefined when there is none, or another instance holds it. */
export async function followStep(db: Database, options: AppValuesOptions): Promise<FollowStep | undefined> {
  const inlineGroupMax = options.inlineGroupMax ?? INLINE_GROUP_MAX;
  return db.transaction(async (tx) => {
    const [position] = resultRows<{ seq: number }>(
      await tx.execute(sql`select seq::float8 as seq from ${appValuesPosition} where id = 1 for update skip locked`),
    );
    if (!position) return undefined;
    // Changes a recompute fed (no delivery) were worked out where they were made.
    const [range] = resultRows<{ last: number | null; rows: number }>(
      await tx.execute(sql`
        select max(seq)::float8 as last, count(*)::int as rows from (
          select seq from ${changes}
          where seq > ${position.seq} and entity in ('MEMBER', 'MEMBERSHIP', 'GROUP') and delivery_id is not null
          order by seq limit ${FOLLOW_BATCH}
        ) c`),
    );
    if (!range || range.last === null) return undefined;
    const read = sql`
      select seq, entity, entity_id, delivery_id, occurred_at from ${changes}
      where seq > ${position.seq} and seq <= ${range.last} and entity in ('MEMBER', 'MEMBERSHIP', 'GROUP') and delivery_id is not null`;
    const groupSize = sql`(select count(*) from (select 1 from ${memberships} x where x.group_id = c.entity_id and x.deleted_at is null limit ${inlineGroupMax + 1}) n)`;
    // For each touched member, the last row that touched it (and whether that was its own), and a
    // request for the tenant of each big group (taken before any member's hash row, as a
    // recompute takes its request first).
    const [touched] = await Promise.all([
      tx.execute(sql`
        with c as (${read}), t as (
          select entity_id as member_id, seq, true as own from c where entity = 'MEMBER'
          union all
          select ms.member_id, c.seq, true from c join ${memberships} ms on ms.id = c.entity_id where c.entity = 'MEMBERSHIP'
          union all
          select ms.member_id, c.seq, false from c join ${memberships} ms on ms.group_id = c.entity_id and ms.deleted_at is null
          where c.entity = 'GROUP' and ${groupSize} <= ${inlineGroupMax}
        )
        select distinct on (t.member_id) t.member_id, t.own, c.delivery_id, (extract(epoch from c.occurred_at) * 1000)::float8 as occurred_ms
        from t join c on c.seq = t.seq where t.member_id is not null
        order by t.member_id, t.seq desc`),
      tx.execute(
        requestRecompute(sql`select g.tenant_id from (${read}) c join ${groups} g on g.id = c.entity_id where c.entity = 'GROUP' and ${groupSize} > ${inlineGroupMax}`, 'group'),
      ),
    ]);
    const by = new Map(
      resultRows<{ member_id: string; own: boolean; delivery_id: string; occurred_ms: number }>(touched).map((r) => [r.member_id, r]),
    );
    const { count, members, write } = await recomputeMembers(tx, [...by.keys()], options.attributeDefaults);
    const feed: FeedEntry[] = [];
    for (const m of members) {
      const cause = by.get(m.memberId);
      if (!m.moved || !cause || cause.own) continue;
      feed.push({ deliveryId: cause.delivery_id, tenantId: m.tenantId, entity: 'MEMBER', entityId: m.memberId, action: 'UPDATED', occurredAt: new Date(cause.occurred_ms) });
    }
    const advance = sql`update ${appValuesPosition} set seq = ${range.last} where id = 1`;
    await appendToFeed(tx, feed, write ? [advance, write] : [advance]);
    return { rows: range.rows, members: count, moved: feed.length };
  });
}
