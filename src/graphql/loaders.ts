// DataLoaders: every row fetched by id, and every nested list, is read in one batched query
// per kind however many parents ask. Created fresh for each request, or for each batch of
// subscription events (shared by every subscriber of the process), so nothing cached outlives
// it. Rows by id are unscoped (resolvers check visibility); a nested list's key carries the
// viewer's tenant scope, so sharing loaders between viewers never shares a scoped list.
import DataLoader from 'dataloader';
import { getTableName, inArray, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { uuidArray, uuidArrayLiteral } from '../db/uuid-array.js';
import type { GroupIdentity } from '../directory/app-roles.js';
import { connections, deliveries, groups, members, memberships, tenantRules, tenants } from '../db/schema.js';
import type {
  ConnectionRow,
  DeliveryRow,
  GroupRow,
  MemberRow,
  MembershipRow,
  TenantRow,
} from './rows.js';
import { nestedCounts, nestedPages, type ListSpec, type ListTable, type Page, type ParentCondition } from './pages.js';

type ByIdTable =
  | typeof tenants
  | typeof connections
  | typeof members
  | typeof groups
  | typeof memberships
  | typeof deliveries;

/**
 * The rows-by-id query of each table, built once per database: Drizzle then skips building its
 * SQL on every request (a sizeable part of a page's CPU), and the ids travel as one parameter.
 */
const byIdQueries = new WeakMap<Database, Map<ByIdTable, { execute(values: { ids: string }): Promise<unknown[]> }>>();

function byIdQuery(db: Database, table: ByIdTable) {
  let ofDb = byIdQueries.get(db);
  if (!ofDb) byIdQueries.set(db, (ofDb = new Map()));
  let query = ofDb.get(table);
  if (!query) {
    query = db
      .select()
      .from(table)
      .where(sql`${table.id} = any(${sql.placeholder('ids')}::uuid[])`)
      .prepare(`by_id_${getTableName(table)}`);
    ofDb.set(table, query);
  }
  return query;
}

function byId<T extends { id: string }>(db: Database, table: ByIdTable): DataLoader<string, T | undefined> {
  return new DataLoader<string, T | undefined>(async (ids) => {
    const rows = (await byIdQuery(db, table).execute({ ids: uuidArrayLiteral(ids) })) as T[];
    const found = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => found.get(id));
  });
}

/** A tenant's app settings (db/schema.ts tenantRules), by tenant id. */
export type TenantRulesRow = typeof tenantRules.$inferSelect;

/** The groups a member is live in (a live membership of a live group), by member id. */
function liveGroupsOf(db: Database): DataLoader<string, GroupIdentity[]> {
  return new DataLoader<string, GroupIdentity[]>(async (memberIds) => {
    const rows = resultRows<{ member_id: string; external_id: string; name: string | null }>(
      await db.execute(sql`
        select m.member_id, g.external_id, g.name from ${memberships} m join ${groups} g on g.id = m.group_id
        where m.member_id = any(${uuidArray(memberIds)}) and m.deleted_at is null and g.deleted_at is null
        order by g.created_at, g.id`),
    );
    const byMember = new Map<string, GroupIdentity[]>();
    for (const r of rows) {
      const list = byMember.get(r.member_id) ?? [];
      list.push({ externalId: r.external_id, name: r.name });
      byMember.set(r.member_id, list);
    }
    return memberIds.map((id) => byMember.get(id) ?? []);
  });
}

export class Loaders {
  readonly tenant: DataLoader<string, TenantRow | undefined>;
  /** Undefined: the tenant has set nothing (no rules, the provider's default mappings). */
  readonly tenantRules: DataLoader<string, TenantRulesRow | undefined>;
  readonly liveGroups: DataLoader<string, GroupIdentity[]>;
  readonly connection: DataLoader<string, ConnectionRow | undefined>;
  readonly member: DataLoader<string, MemberRow | undefined>;
  readonly group: DataLoader<string, GroupRow | undefined>;
  readonly membership: DataLoader<string, MembershipRow | undefined>;
  readonly delivery: DataLoader<string, DeliveryRow | undefined>;
  readonly #nested = new Map<string, DataLoader<string, Page<unknown>>>();
  readonly #counts = new Map<string, DataLoader<string, number>>();

  constructor(private readonly db: Database) {
    this.tenant = byId(db, tenants);
    this.tenantRules = new DataLoader(async (ids) => {
      const rows = await db.select().from(tenantRules).where(inArray(tenantRules.tenantId, [...ids]));
      const found = new Map(rows.map((r) => [r.tenantId, r]));
      return ids.map((id) => found.get(id));
    });
    this.liveGroups = liveGroupsOf(db);
    this.connection = byId(db, connections);
    this.member = byId(db, members);
    this.group = byId(db, groups);
    this.membership = byId(db, memberships);
    this.delivery = byId(db, deliveries);
  }

  /**
   * The loader of one nested list (say `Member.groups(first: 10)`): parents asking with the
   * same arguments share it, so they are read in one query. `key` must identify the field, its
   * arguments and the viewer's tenant scope.
   */
  nested<T>(
    key: string,
    rows: DataLoader<string, T | undefined>,
    makeSpec: () => ListSpec,
    belongs: ParentCondition,
  ): DataLoader<string, Page<T>> {
    let loader = this.#nested.get(key) as DataLoader<string, Page<T>> | undefined;
    if (!loader) {
      const spec = makeSpec();
      const counts = new DataLoader<string, number>(nestedCounts(this.db, spec.table, spec.conditions, belongs));
      loader = new DataLoader<string, Page<T>>(nestedPages(this.db, rows, spec, belongs, (p) => counts.load(p)));
      this.#nested.set(key, loader as DataLoader<string, Page<unknown>>);
    }
    return loader;
  }

  /** The loader of one count per parent (say `Group.memberCount`); `key` as for `nested`. */
  counts(key: string, table: ListTable, makeConditions: () => SQL[], belongs: ParentCondition): DataLoader<string, number> {
    let loader = this.#counts.get(key);
    if (!loader) {
      loader = new DataLoader<string, number>(nestedCounts(this.db, table, makeConditions(), belongs));
      this.#counts.set(key, loader);
    }
    return loader;
  }
}
