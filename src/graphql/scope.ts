// Tenant isolation, in one place: which tenant a request is confined to, and whether a row
// may be shown. Every resolver that reads rows goes through these.
import { canSee, type Viewer } from '../auth/viewer.js';
import { apiError } from './errors.js';
import { expectGlobalId } from './ids.js';
import type { GraphQLContext } from './context.js';

export { canSee };

/** The row if the viewer may see it. */
export function visible<T>(viewer: Viewer, row: T | undefined, tenantOf: (row: T) => string | null): T | null {
  return row !== undefined && canSee(viewer, tenantOf(row)) ? row : null;
}

/**
 * The tenant a list is confined to: a tenant key's own, whatever it asked for; or the
 * `tenantId` an admin passed; or null (all tenants, admins only). A tenantId the viewer cannot
 * see is NOT_FOUND, with the same message whether it exists or not.
 */
export async function listTenant(ctx: GraphQLContext, tenantId: string | null | undefined): Promise<string | null> {
  const own = ctx.viewer.kind === 'tenant' ? ctx.viewer.tenantId : null;
  if (tenantId === null || tenantId === undefined) return own;
  const id = expectGlobalId(tenantId, 'Tenant', 'tenantId');
  const tenant = id === own ? true : own === null && (await ctx.loaders.tenant.load(id)) !== undefined;
  if (!tenant) throw apiError('NOT_FOUND', 'no tenant with this tenantId is visible to this API key', { argument: 'tenantId' });
  return id;
}
