// The change feed and the delivery log: append-only tables read by sequence (changes, oldest
// first) or by arrival (deliveries, newest first).
import { and, asc, count, desc, eq, gt, lte, sql, type SQL } from 'drizzle-orm';
import { viewerScope } from '../../auth/viewer.js';
import type { Database } from '../../db/open.js';
import { oneOf } from '../../db/uuid-array.js';
import { changes, deliveries } from '../../db/schema.js';
import type { GraphQLContext } from '../context.js';
import { feedCursor, parseFeedCursor, parseRowCursor, rowCursor, type RowPosition } from '../cursors.js';
import type { DeliveryStatus } from '../../directory/types.js';
import { apiError, badInput, cursorExpired } from '../errors.js';
import { readFeedHorizon } from '../../directory/feed-horizon.js';
import type { DeliveryFilter, Resolvers } from '../generated/resolvers.js';
import { toGlobalId } from '../ids.js';
import { ENTITY_NODE_TYPE, loadNode } from '../nodes.js';
import { assemblePage, pageWindow, type Page } from '../pages.js';
import type { ChangeRow, DeliveryRow, TenantRow } from '../rows.js';
import { canSee, listTenant, visible } from '../scope.js';
import { textArgument } from '../filters.js';

async function countWhere(db: Database, table: typeof changes | typeof deliveries, where: SQL | undefined) {
  const [row] = await db.select({ n: count() }).from(table).where(where);
  return row?.n ?? 0;
}

export async function changesPage(
  ctx: GraphQLContext,
  args: { tenantId?: string | null; first?: number | null; after?: string | null },
): Promise<Page<ChangeRow>> {
  const tenants = await listTenant(ctx, args.tenantId);
  const window = pageWindow({ first: args.first, after: args.after }, parseFeedCursor);
  const scope = tenants === null ? undefined : oneOf(changes.tenantId, tenants);
  const rows = await ctx.db
    .select()
    .from(changes)
    .where(and(scope, window.after === undefined ? undefined : gt(changes.seq, window.after)))
    .orderBy(asc(changes.seq))
    .limit(window.size + 1);
  // After the read: retention moves the horizon in the statement that deletes, so a horizon
  // still at or below the cursor now means no row after it was gone when the page was read.
  if (window.after !== undefined && window.after < (await readFeedHorizon(ctx.db))) throw cursorExpired('after');
  const bySeq = new Map(rows.map((r) => [String(r.seq), r]));
  return assemblePage(window, rows.map((r) => r.seq), bySeq, String, feedCursor, {
    beyondStart: async () =>
      window.after !== undefined && (await countWhere(ctx.db, changes, and(scope, lte(changes.seq, window.after)))) > 0,
    beyondEnd: async () => false,
    totalCount: () => countWhere(ctx.db, changes, scope),
  });
}

const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['rejected', 'applied', 'stale', 'unchanged', 'ignored', 'applying'];

function deliveryConditions(filter: DeliveryFilter | null | undefined): SQL | undefined {
  const status = filter?.status;
  const known = DELIVERY_STATUSES.find((s) => s === status);
  if (status && !known) throw badInput(`filter.status must be one of ${DELIVERY_STATUSES.join(', ')}`, 'filter.status');
  return and(
    filter?.source ? eq(deliveries.source, textArgument(filter.source, 'filter.source', 64)) : undefined,
    known ? eq(deliveries.status, known) : undefined,
  );
}

const deliveryPosition = (d: DeliveryRow): RowPosition => ({ ms: d.receivedAt.getTime(), id: d.id });
const olderThan = (p: RowPosition) =>
  sql`(${deliveries.receivedAt}, ${deliveries.id}) < (${new Date(p.ms).toISOString()}::timestamptz, ${p.id}::uuid)`;

export async function deliveriesPage(
  ctx: GraphQLContext,
  args: { first?: number | null; after?: string | null; filter?: DeliveryFilter | null },
): Promise<Page<DeliveryRow>> {
  // Deliveries are whole request bodies of every tenant: admins only.
  if (ctx.viewer.kind !== 'admin') throw apiError('FORBIDDEN', 'deliveries can only be read with an admin API key');
  const window = pageWindow({ first: args.first, after: args.after }, parseRowCursor);
  const filter = deliveryConditions(args.filter);
  const rows = await ctx.db
    .select()
    .from(deliveries)
    .where(and(filter, window.after ? olderThan(window.after) : undefined))
    .orderBy(desc(deliveries.receivedAt), desc(deliveries.id))
    .limit(window.size + 1);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return assemblePage(window, rows.map(deliveryPosition), byId, (p) => p.id, rowCursor, {
    beyondStart: async () =>
      window.after !== undefined &&
      (await countWhere(ctx.db, deliveries, and(filter, sql`not ${olderThan(window.after)}`))) > 0,
    beyondEnd: async () => false,
    totalCount: () => countWhere(ctx.db, deliveries, filter),
  });
}

export const feedResolvers: Resolvers = {
  Change: {
    cursor: (c) => feedCursor(c.seq),
    tenant: async (c, _args, ctx) =>
      c.tenantId === null ? null : visible(ctx.viewer, await ctx.loaders.tenant.load(c.tenantId), (t) => t.id),
    node: (c, _args, ctx) => loadNode(ctx, ENTITY_NODE_TYPE[c.entity], c.entityId),
  },
  Viewer: {
    role: (v) => (v.kind === 'admin' ? 'ADMIN' : 'TENANT'),
    name: (v) => v.name,
    tenant: async (v, _args, ctx) =>
      v.kind === 'tenant' && !v.tenantIds && canSee(ctx.viewer, v.tenantId) ? ((await ctx.loaders.tenant.load(v.tenantId)) ?? null) : null,
    tenants: async (v, _args, ctx) => {
      const ids = viewerScope(v)?.filter((id) => canSee(ctx.viewer, id)) ?? [];
      return (await ctx.loaders.tenant.loadMany(ids)).filter((t): t is TenantRow => t !== undefined && !(t instanceof Error));
    },
  },
  Delivery: {
    id: (d) => toGlobalId('Delivery', d.id),
  },
};
