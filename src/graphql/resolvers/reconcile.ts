// The reconcile mutation and the reconcileRuns query: the admin's way to run src/reconcile on a
// running service and to follow its runs.
import type { MutationResolvers, QueryResolvers, ReconcileRunResolvers } from '../generated/resolvers.js';
import { and, eq } from 'drizzle-orm';
import { tenants } from '../../db/schema.js';
import type { Provider } from '../../directory/types.js';
import { listRuns, ReconcileUnavailable } from '../../reconcile/runs.js';
import type { GraphQLContext } from '../context.js';
import { apiError, badInput } from '../errors.js';
import { expectGlobalId, toGlobalId } from '../ids.js';


const adminOnly = (ctx: GraphQLContext, what: string) => {
  // A run reads a provider's whole tenant and writes the directory: admins only.
  if (ctx.viewer.kind !== 'admin') throw apiError('FORBIDDEN', `${what} needs an admin API key`);
};

export const reconcileResolvers: {
  Mutation: Pick<MutationResolvers, 'reconcile'>;
  Query: Pick<QueryResolvers, 'reconcileRuns'>;
  ReconcileRun: ReconcileRunResolvers;
} = {
  Mutation: {
    reconcile: async (_parent, args, ctx) => {
      adminOnly(ctx, 'reconcile');
      if (!ctx.reconcile) throw badInput('reconcile runs over HTTP, not over WebSocket');
      const id = expectGlobalId(args.tenantId, 'Tenant', 'tenantId');
      const tenant = await ctx.loaders.tenant.load(id);
      if (!tenant) throw apiError('NOT_FOUND', 'no tenant has this id', { argument: 'tenantId' });
      if (args.source !== tenant.provider.toLowerCase()) {
        throw badInput(`the tenant comes from ${tenant.provider.toLowerCase()}, not ${args.source}`, 'source');
      }
      try {
        return await ctx.reconcile({
          source: args.source,
          tenant,
          dryRun: args.dryRun ?? false,
          trigger: `api: ${ctx.viewer.name}`,
        });
      } catch (error) {
        if (error instanceof ReconcileUnavailable) throw badInput(error.message, 'source');
        throw error;
      }
    },
  },
  Query: {
    reconcileRuns: async (_parent, args, ctx) => {
      adminOnly(ctx, 'reconcileRuns');
      const first = args.first ?? 20;
      if (first < 0 || first > 100) throw badInput('first must be between 0 and 100', 'first');
      const id = args.id == null ? undefined : expectGlobalId(args.id, 'ReconcileRun', 'id');
      return listRuns(ctx.db, { ...(id === undefined ? {} : { id }), limit: first });
    },
  },
  ReconcileRun: {
    id: (run) => toGlobalId('ReconcileRun', run.id),
    tenant: async (run, _args, ctx) => {
      const [row] = await ctx.db
        .select()
        .from(tenants)
        .where(
          and(
            eq(tenants.provider, run.source.toUpperCase() as Provider),
            eq(tenants.externalId, run.tenantExternalId),
            eq(tenants.product, run.product),
          ),
        );
      return row ?? null;
    },
  },
};
