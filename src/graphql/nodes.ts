// Any object by type and id, or null when it does not exist or the viewer may not see it.
import type { EntityKind } from '../directory/types.js';
import type { GraphQLContext } from './context.js';
import type { NodeType } from './ids.js';
import { listRuns } from '../reconcile/runs.js';
import type { ConnectionRow, DeliveryRow, GroupRow, MemberRow, MembershipRow, ReconcileRunRow, TenantRow } from './rows.js';
import { visible } from './scope.js';

type NodeRow = TenantRow | ConnectionRow | MemberRow | GroupRow | MembershipRow | DeliveryRow | ReconcileRunRow;

export async function loadNode(ctx: GraphQLContext, type: NodeType, id: string): Promise<NodeRow | null> {
  const { loaders, viewer } = ctx;
  switch (type) {
    case 'Tenant':
      return visible(viewer, await loaders.tenant.load(id), (t) => t.id);
    case 'Connection':
      return visible(viewer, await loaders.connection.load(id), (r) => r.tenantId);
    case 'Member':
      return visible(viewer, await loaders.member.load(id), (r) => r.tenantId);
    case 'Group':
      return visible(viewer, await loaders.group.load(id), (r) => r.tenantId);
    case 'Membership':
      return visible(viewer, await loaders.membership.load(id), (r) => r.tenantId);
    case 'Delivery':
      return viewer.kind === 'admin' ? ((await loaders.delivery.load(id)) ?? null) : null;
    case 'ReconcileRun':
      return viewer.kind === 'admin' ? ((await listRuns(ctx.db, { id, limit: 1 }))[0] ?? null) : null;
  }
}

/** The node type of each change-feed entity. */
export const ENTITY_NODE_TYPE: Record<EntityKind, NodeType> = {
  TENANT: 'Tenant',
  CONNECTION: 'Connection',
  MEMBER: 'Member',
  GROUP: 'Group',
  MEMBERSHIP: 'Membership',
};
