// Tenant isolation, in one place: which tenants a request is confined to, and whether a row
// may be shown. Every resolver that reads rows goes through these.
import { canSee, viewerScope, type Scope, type Viewer } from '../auth/viewer.js';
import { apiError } from './errors.js';
import { expectGlobalId } from './ids.js';
import type { GraphQLContext } from './context.js';

export { canSee };

/** The row if the viewer may see it. */
export function visible<T>(viewer: Viewer, row: T | undefined, tenantOf: (row: T) => string | null): T | null {
  return row !== undefined && canSee(viewer, tenantOf(row)) ? row : null;
}

/**
 * The tenants a list is confined to: the one `tenantId` names, if the viewer may see it (an admin
 * any that exists, a tenant key or token one of its own); else the viewer's own (null: all
 * tenants, admins only). A tenantId the viewer cannot see is NOT_FOUND, with the same message
 * whether it exists or not.
 */
export async function listTenant(ctx: GraphQLContext, tenantId: string | null | undefined): Promise<Scope> {
  const own = viewerScope(ctx.viewer);
  if (tenantId === null || tenantId === undefined) return own;
  const id = expectGlobalId(tenantId, 'Tenant', 'tenantId');
  const tenant = own === null ? (await ctx.loaders.tenant.load(id)) !== undefined : own.includes(id);
  if (!tenant) throw apiError('NOT_FOUND', 'no tenant with this tenantId is visible to this API key', { argument: 'tenantId' });
  return [id];
}
