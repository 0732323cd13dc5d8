// Aggregates over a list, in SQL both read paths use: the resolvers run it as its own
// statement, the compiled read (src/read) embeds it in the operation's one statement.
import { sql, type SQL } from 'drizzle-orm';
import type { MemberStatus as StoredStatus } from '../db/vocabulary.js';

/** A member's status as the API says it: DELETED once its provider deleted it. */
type MemberStatus = StoredStatus | 'DELETED';

export interface MemberStatusCount {
  status: MemberStatus;
  count: number;
}

/** MemberStatus's values in the schema's order, which countsByStatus keeps. */
const STATUSES: MemberStatus[] = ['ACTIVE', 'INACTIVE', 'INVITED', 'PENDING', 'DELETED'];

/** Each count's JSON: its status is `x.s`, its count `x.n`. */
const ITEM = `json_build_object('status', x.s, 'count', x.n)`;

const before = (item: string) =>
  `(select coalesce(json_agg(${item} ` +
  `order by array_position(array[${STATUSES.map((s) => `'${s}'`).join(', ')}]::text[], x.s)), '[]'::json) ` +
  `from (select case when "members"."deleted_at" is not null then 'DELETED' else "members"."status" end as s, ` +
  `count(*)::int as n from "members" where `;
// A member whose status its provider has not said yet (null) has no status to be counted under.
const AFTER = ` group by 1) as x where x.s is not null)`;

/**
 * countsByStatus as one JSON value: `[{"status":…,"count":…}]`, the statuses that have members
 * under `where` (conditions over "members"), in the schema's order. `item` writes each count
 * as the operation selected it (the compiled read), from `x.s` and `x.n`.
 */
export function statusCountsSql(where: SQL): SQL;
export function statusCountsSql(where: string, item: string): string;
export function statusCountsSql(where: SQL | string, item = ITEM): SQL | string {
  return typeof where === 'string' ? before(item) + where + AFTER : sql`${sql.raw(before(item))}${where}${sql.raw(AFTER)}`;
}
