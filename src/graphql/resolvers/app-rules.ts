// What an app makes of a tenant's directory: role rules and attribute mappings (admin only to
// set), and each member's app role, roles and attributes under them, computed from its live
// groups and its stored provider object as they are when asked.
import { sql } from 'drizzle-orm';
import { attributesOf, pathSegments, type AttributeMapping } from '../../directory/attributes.js';
import { appRoleOf, appRolesOf, type RoleRule } from '../../directory/app-roles.js';
import { tenantRules } from '../../db/schema.js';
import type { Provider } from '../../directory/types.js';
import { defaultAttributeMappings } from '../../sources/index.js';
import type { GraphQLContext } from '../context.js';
import { apiError, badInput } from '../errors.js';
import { textArgument } from '../filters.js';
import type { Resolvers } from '../generated/resolvers.js';
import { expectGlobalId } from '../ids.js';
import type { MemberRow, TenantRow } from '../rows.js';

const MAX_RULES = 200;
const MAX_MAPPINGS = 50;
const MAX_NAME = 256;
const MAX_PATH = 1024;

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

function checkedRules(rules: readonly RoleRule[]): RoleRule[] {
  if (rules.length > MAX_RULES) throw badInput(`${rules.length} rules; a tenant has at most ${MAX_RULES}`, 'rules');
  return rules.map((rule, i) => {
    const group = textArgument(rule.group, `rules[${i}].group`, MAX_NAME);
    const role = textArgument(rule.role, `rules[${i}].role`, MAX_NAME);
    if (group === '' || role === '') throw badInput(`rules[${i}]: group and role must not be empty`, 'rules');
    return { group, role, priority: rule.priority };
  });
}

function checkedMappings(mappings: readonly AttributeMapping[]): AttributeMapping[] {
  if (mappings.length > MAX_MAPPINGS) throw badInput(`${mappings.length} mappings; a tenant has at most ${MAX_MAPPINGS}`, 'mappings');
  const names = new Set<string>();
  return mappings.map((mapping, i) => {
    const name = textArgument(mapping.name, `mappings[${i}].name`, MAX_NAME);
    const path = textArgument(mapping.path, `mappings[${i}].path`, MAX_PATH);
    if (name === '') throw badInput(`mappings[${i}].name must not be empty`, 'mappings');
    if (names.has(name)) throw badInput(`mappings name ${JSON.stringify(name)} twice`, 'mappings');
    names.add(name);
    const segments = pathSegments(path);
    if ('error' in segments) throw badInput(`mappings[${i}].path: ${segments.error}`, 'mappings');
    return { name, path };
  });
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
      const rules = checkedRules(args.rules);
      const defaultRole = args.defaultRole === null || args.defaultRole === undefined ? null : textArgument(args.defaultRole, 'defaultRole', MAX_NAME) || null;
      await ctx.db
        .insert(tenantRules)
        .values({ tenantId: tenant.id, roleRules: rules, defaultRole })
        .onConflictDoUpdate({ target: tenantRules.tenantId, set: { roleRules: rules, defaultRole, updatedAt: sql`now()` } });
      ctx.loaders.tenantRules.clear(tenant.id);
      return tenant;
    },
    setAttributeMappings: async (_root, args, ctx) => {
      requireAdmin(ctx, 'setAttributeMappings');
      const tenant = await tenantFor(ctx, args.tenantId);
      const mappings = checkedMappings(args.mappings);
      await ctx.db
        .insert(tenantRules)
        .values({ tenantId: tenant.id, attributeMappings: mappings })
        .onConflictDoUpdate({ target: tenantRules.tenantId, set: { attributeMappings: mappings, updatedAt: sql`now()` } });
      ctx.loaders.tenantRules.clear(tenant.id);
      return tenant;
    },
  },
};
