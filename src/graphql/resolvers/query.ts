// Root query fields: every list is confined to the viewer's tenant before anything is read.
import { viewerScope } from '../../auth/viewer.js';
import { connections, groups, members, tenants } from '../../db/schema.js';
import type { GraphQLContext } from '../context.js';
import { badInput } from '../errors.js';
import { connectionConditions, groupConditions, memberConditions, tenantConditions, tenantScope, withoutStatus } from '../filters.js';
import type { Resolvers } from '../generated/resolvers.js';
import { expectGlobalId, isNodeType, parseGlobalId } from '../ids.js';
import { loadNode } from '../nodes.js';
import { listPage, listWindow, type ListArgs, type ListTable } from '../pages.js';
import { listTenant, visible } from '../scope.js';
import { changesPage, deliveriesPage } from './feed.js';
import type { SQL } from 'drizzle-orm';
import type DataLoader from 'dataloader';

async function list<T>(
  ctx: GraphQLContext,
  table: ListTable,
  rows: DataLoader<string, T | undefined>,
  conditions: SQL[],
  args: ListArgs & { tenantId?: string | null },
  statusCountConditions?: SQL[],
) {
  const { order, window } = listWindow(table, args);
  const tenantId = await listTenant(ctx, args.tenantId);
  const scope = tenantScope(table, tenantId);
  return listPage(ctx.db, rows, {
    table,
    order,
    window,
    conditions: [...conditions, ...scope],
    ...(statusCountConditions ? { statusCountConditions: [...statusCountConditions, ...scope] } : {}),
  });
}

export const queryResolvers: Resolvers = {
  Query: {
    node: async (_root, { id }, ctx) => {
      const parsed = parseGlobalId(id);
      if (!parsed) throw badInput('id is not an id this API issued', 'id');
      return isNodeType(parsed.type) ? loadNode(ctx, parsed.type, parsed.id) : null;
    },
    tenant: async (_root, { id }, ctx) =>
      visible(ctx.viewer, await ctx.loaders.tenant.load(expectGlobalId(id, 'Tenant', 'id')), (t) => t.id),
    tenants: (_root, args, ctx) =>
      listPage(ctx.db, ctx.loaders.tenant, {
        table: tenants,
        ...listWindow(tenants, args),
        conditions: [...tenantConditions(args.filter), ...tenantScope(tenants, viewerScope(ctx.viewer))],
      }),
    connections: (_root, args, ctx) =>
      list(ctx, connections, ctx.loaders.connection, connectionConditions(args.filter), args),
    members: (_root, args, ctx) =>
      list(ctx, members, ctx.loaders.member, memberConditions(args.filter, viewerScope(ctx.viewer)), args,
        memberConditions(withoutStatus(args.filter), viewerScope(ctx.viewer))),
    groups: (_root, args, ctx) =>
      list(ctx, groups, ctx.loaders.group, groupConditions(args.filter, viewerScope(ctx.viewer)), args),
    changes: (_root, args, ctx) => changesPage(ctx, args),
    deliveries: (_root, args, ctx) => deliveriesPage(ctx, args),
    viewer: (_root, _args, ctx) => ctx.viewer,
  },
};
