// The directory's object types. Everything a field reaches from a row (its tenant, its
// groups, its members) goes through the per-request loaders and the viewer's scope.
import { eq, type SQL } from 'drizzle-orm';
import type DataLoader from 'dataloader';
import { scopeKey, viewerScope } from '../../auth/viewer.js';
import { connections, groups, members } from '../../db/schema.js';
import type { EntityKind, Json, Provider } from '../../directory/types.js';
import type { GraphQLContext } from '../context.js';
import {
  connectionConditions,
  groupConditions,
  groupOfMember,
  memberConditions,
  memberOfGroup,
  tenantScope,
  withoutStatus,
} from '../filters.js';
import type { Resolvers } from '../generated/resolvers.js';
import { toGlobalId } from '../ids.js';
import { listWindow, type ListArgs, type ListSpec, type ListTable, type Page, type ParentCondition } from '../pages.js';
import type { ConnectionRow, GroupRow, MemberRow, MembershipRow, TenantRow } from '../rows.js';
import { visible } from '../scope.js';

/**
 * One parent's page of a nested list, batched with every other parent asking the same. The
 * list's conditions are built once per batch (by the first parent), not once per parent.
 */
function nestedList<T>(
  ctx: GraphQLContext,
  field: string,
  parentId: string,
  rows: DataLoader<string, T | undefined>,
  table: ListTable,
  conditions: () => SQL[],
  belongs: ParentCondition,
  args: ListArgs,
  statusCountConditions?: () => SQL[],
): Promise<Page<T>> {
  const scope = viewerScope(ctx.viewer);
  // The scope is part of the key: a subscription batch's loaders serve viewers of every tenant.
  const spec = (): ListSpec => ({
    table,
    ...listWindow(table, args),
    conditions: [...conditions(), ...tenantScope(table, scope)],
    ...(statusCountConditions ? { statusCountConditions: [...statusCountConditions(), ...tenantScope(table, scope)] } : {}),
  });
  return ctx.loaders.nested(`${scopeKey(scope)}|${field}:${JSON.stringify(args)}`, rows, spec, belongs).load(parentId);
}

async function tenantOf(ctx: GraphQLContext, tenantId: string | null): Promise<TenantRow | null> {
  if (tenantId === null) return null;
  return visible(ctx.viewer, await ctx.loaders.tenant.load(tenantId), (t) => t.id);
}

async function connectionOf(ctx: GraphQLContext, connectionId: string | null): Promise<ConnectionRow | null> {
  if (connectionId === null) return null;
  return visible(ctx.viewer, await ctx.loaders.connection.load(connectionId), (c) => c.tenantId);
}

type Stored = { provider: Provider; createdAt: Date; updatedAt: Date; deletedAt: Date | null; raw: Json | null };

/** The columns every entity type shares. */
const common = <T extends Stored>(entity: EntityKind) => ({
  createdAt: (r: T) => r.createdAt,
  updatedAt: (r: T) => r.updatedAt,
  deletedAt: (r: T) => r.deletedAt,
  // Admin keys serve the company's backend: all of it. A tenant key may sit in a browser: only
  // what a frontend needs, as the provider's adapter chose (SECURITY.md, "Secret leakage").
  raw: (r: T, _args: unknown, ctx: GraphQLContext) =>
    ctx.viewer.kind === 'admin' || r.raw === null ? r.raw : ctx.publicRaw.pick(r.provider, entity, r.raw),
});

const belongsToTenant =
  (table: typeof connections | typeof members | typeof groups): ParentCondition =>
  (parent) =>
    eq(table.tenantId, parent);

export const entityResolvers: Resolvers = {
  Node: {
    // Rows carry no type tag; each kind has a column no other has.
    __resolveType: (row) =>
      'tenantExternalId' in row
        ? 'ReconcileRun'
        : 'source' in row
        ? 'Delivery'
        : 'groupId' in row
          ? 'Membership'
          : 'email' in row
            ? 'Member'
            : 'kind' in row
              ? 'Connection'
              : 'product' in row
                ? 'Tenant'
                : 'Group',
  },

  Tenant: {
    ...common<TenantRow>('TENANT'),
    id: (t) => toGlobalId('Tenant', t.id),
    connections: (t, args, ctx) =>
      nestedList(ctx, 'Tenant.connections', t.id, ctx.loaders.connection, connections,
        () => connectionConditions(args.filter), belongsToTenant(connections), args),
    members: (t, args, ctx) =>
      nestedList(ctx, 'Tenant.members', t.id, ctx.loaders.member, members,
        () => memberConditions(args.filter, viewerScope(ctx.viewer)), belongsToTenant(members), args,
        () => memberConditions(withoutStatus(args.filter), viewerScope(ctx.viewer))),
    groups: (t, args, ctx) =>
      nestedList(ctx, 'Tenant.groups', t.id, ctx.loaders.group, groups,
        () => groupConditions(args.filter, viewerScope(ctx.viewer)), belongsToTenant(groups), args),
  },

  Connection: {
    ...common<ConnectionRow>('CONNECTION'),
    id: (c) => toGlobalId('Connection', c.id),
    status: (c) => (c.deletedAt ? 'DELETED' : c.status),
    tenant: (c, _args, ctx) => tenantOf(ctx, c.tenantId),
  },

  Member: {
    ...common<MemberRow>('MEMBER'),
    id: (m) => toGlobalId('Member', m.id),
    status: (m) => (m.deletedAt ? 'DELETED' : m.status),
    tenant: (m, _args, ctx) => tenantOf(ctx, m.tenantId),
    directory: (m, _args, ctx) => connectionOf(ctx, m.connectionId),
    groups: (m, args, ctx) =>
      nestedList(ctx, 'Member.groups', m.id, ctx.loaders.group, groups, () => groupConditions(args.filter, viewerScope(ctx.viewer)),
        (parent) => groupOfMember(parent, args.filter?.includeDeleted), args),
  },

  Group: {
    ...common<GroupRow>('GROUP'),
    id: (g) => toGlobalId('Group', g.id),
    tenant: (g, _args, ctx) => tenantOf(ctx, g.tenantId),
    directory: (g, _args, ctx) => connectionOf(ctx, g.connectionId),
    members: (g, args, ctx) =>
      nestedList(ctx, 'Group.members', g.id, ctx.loaders.member, members, () => memberConditions(args.filter, viewerScope(ctx.viewer)),
        (parent) => memberOfGroup(parent, args.filter?.includeDeleted), args,
        () => memberConditions(withoutStatus(args.filter), viewerScope(ctx.viewer))),
    // What `members { totalCount }` answers without a filter, batched over every group asking.
    memberCount: (g, _args, ctx) => {
      const scope = viewerScope(ctx.viewer);
      return ctx.loaders
        .counts(`${scopeKey(scope)}|Group.memberCount`, members, () => [...memberConditions(undefined, scope), ...tenantScope(members, scope)],
          (parent) => memberOfGroup(parent))
        .load(g.id);
    },
  },

  Membership: {
    ...common<MembershipRow>('MEMBERSHIP'),
    id: (m) => toGlobalId('Membership', m.id),
    tenant: (m, _args, ctx) => tenantOf(ctx, m.tenantId),
    group: async (m, _args, ctx) =>
      m.groupId === null ? null : visible(ctx.viewer, await ctx.loaders.group.load(m.groupId), (g) => g.tenantId),
    member: async (m, _args, ctx) =>
      m.memberId === null ? null : visible(ctx.viewer, await ctx.loaders.member.load(m.memberId), (x) => x.tenantId),
  },
};
