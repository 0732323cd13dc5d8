// The replayDeliveries mutation: the admin's way to run src/replay.ts on a running service.
import type { DeliveryStatus } from '../../directory/types.js';
import type { MutationResolvers } from '../generated/resolvers.js';
import { apiError, badInput } from '../errors.js';
import { expectGlobalId } from '../ids.js';
import { isSourceName, SOURCE_LIST } from '../../sources/index.js';

const STATUSES = ['rejected', 'stale', 'ignored', 'unchanged', 'applied', 'applying', 'all'];

export const replayResolvers: { Mutation: MutationResolvers } = {
  Mutation: {
    replayDeliveries: async (_parent, args, ctx) => {
      // Replay reads every tenant's deliveries and writes any tenant's directory: admins only.
      if (ctx.viewer.kind !== 'admin') throw apiError('FORBIDDEN', 'deliveries can only be replayed with an admin API key');
      if (!ctx.replay) throw badInput('replayDeliveries runs over HTTP, not over WebSocket');
      const filter = args.filter ?? {};
      if (filter.status != null && !STATUSES.includes(filter.status)) {
        throw badInput(`filter.status must be one of ${STATUSES.join(', ')}`, 'filter.status');
      }
      if (filter.source != null && !isSourceName(filter.source)) throw badInput(`filter.source must be ${SOURCE_LIST}`, 'filter.source');
      const report = await ctx.replay(
        {
          ...(args.id != null ? { deliveryId: expectGlobalId(args.id, 'Delivery', 'id') } : {}),
          ...(filter.status != null ? { status: filter.status as DeliveryStatus | 'all' } : {}),
          ...(filter.source != null ? { source: filter.source } : {}),
          ...(filter.since != null ? { since: filter.since as Date } : {}),
        },
        { dryRun: args.dryRun ?? false },
      );
      return {
        matched: report.matched,
        replayed: report.replayed,
        applied: report.applied,
        stillRejected: report.stillRejected,
        transitions: Object.entries(report.transitions).map(([step, count]) => {
          const [from, to] = step.split(' -> ') as [string, string];
          return { from, to, count };
        }),
      };
    },
  },
};
