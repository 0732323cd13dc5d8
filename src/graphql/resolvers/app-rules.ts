// What an app makes of a tenant's directory: role rules and attribute mappings (admin only to
// set), and each member's app role, roles and attributes under them, computed from its live
// groups and its stored provider object as they are when asked.
import { attributesOf, type AttributeMapping } from '../../directory/attributes.js';
import { appRoleOf, appRolesOf } from '../../directory/app-roles.js';
import { InvalidSetting, storeAttributeMappings, storeRoleRules } from '../../directory/app-settings.js';
import type { Provider } from '../../directory/types.js';
import { defaultAttributeMappings } from '../../sources/index.js';
import type { GraphQLContext } from '../context.js';
import { apiError, badInput } from '../errors.js';
import type { Resolvers } from '../generated/resolvers.js';
import { expectGlobalId } from '../ids.js';
import type { MemberRow, TenantRow } from '../rows.js';

const rulesOf = async (ctx: GraphQLContext, tenantId: string | null) => (tenantId === null ? undefined : ctx.loaders.tenantRules.load(tenantId));

async function mappingsOf(ctx: GraphQLContext, tenantId: string | null, provider: Provider): Promise<readonly AttributeMapping[]> {
  return (await rulesOf(ctx, tenantId))?.attributeMappings ?? defaultAttributeMappings(provider);
}

/** A member's live groups, none for a deleted member (its memberships ended with it). */
const groupsOf = async (ctx: GraphQLContext, m: MemberRow) => (m.deletedAt ? [] : ctx.loaders.liveGroups.load(m.id));

function requireAdmin(ctx: GraphQLContext, what: string): void {
  if (ctx.viewer.kind !== 'admin') throw apiError('FORBIDDEN', `${what} needs an admin API key`);
}

async function tenantFor(ctx: GraphQLContext, tenantId: string): Promise<TenantRow> {
  const id = expectGlobalId(tenantId, 'Tenant', 'tenantId');
  const tenant = await ctx.loaders.tenant.load(id);
  if (!tenant) throw apiError('NOT_FOUND', 'no tenant with this tenantId', { argument: 'tenantId' });
  return tenant;
}

/** A setting refused: BAD_USER_INPUT naming it, nothing stored. */
async function storing(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof InvalidSetting) throw badInput(error.message, error.argument);
    throw error;
  }
}

export const appRulesResolvers: Resolvers = {
  Tenant: {
    roleRules: async (t, _args, ctx) => (await rulesOf(ctx, t.id))?.roleRules ?? [],
    defaultRole: async (t, _args, ctx) => (await rulesOf(ctx, t.id))?.defaultRole ?? null,
    attributeMappings: async (t, _args, ctx) => [...(await mappingsOf(ctx, t.id, t.provider))],
  },
  Member: {
    appRole: async (m, _args, ctx) => {
      if (m.deletedAt) return null;
      const rules = await rulesOf(ctx, m.tenantId);
      return appRoleOf(rules?.roleRules ?? [], rules?.defaultRole ?? null, await groupsOf(ctx, m));
    },
    appRoles: async (m, _args, ctx) => appRolesOf((await rulesOf(ctx, m.tenantId))?.roleRules ?? [], await groupsOf(ctx, m)),
    attributes: async (m, _args, ctx) => attributesOf(await mappingsOf(ctx, m.tenantId, m.provider), m.raw),
  },
  Mutation: {
    setRoleRules: async (_root, args, ctx) => {
      requireAdmin(ctx, 'setRoleRules');
      const tenant = await tenantFor(ctx, args.tenantId);
      await storing(() => storeRoleRules(ctx.db, tenant.id, args.rules, args.defaultRole ?? null));
      ctx.loaders.tenantRules.clear(tenant.id);
      ctx.appSettingsChanged?.();
      return tenant;
    },
    setAttributeMappings: async (_root, args, ctx) => {
      requireAdmin(ctx, 'setAttributeMappings');
      const tenant = await tenantFor(ctx, args.tenantId);
      await storing(() => storeAttributeMappings(ctx.db, tenant.id, args.mappings));
      ctx.loaders.tenantRules.clear(tenant.id);
      ctx.appSettingsChanged?.();
      return tenant;
    },
  },
};
