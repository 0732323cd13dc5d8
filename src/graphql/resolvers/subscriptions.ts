// Subscriptions (WebSocket only): each checks its arguments and says what it follows;
// live/execute.ts joins it to the push group that executes each change for it.
import type { GraphQLContext } from '../context.js';
import { feedCursor, parseFeedCursor } from '../cursors.js';
import { apiError, cursorExpired } from '../errors.js';
import { isUnavailable } from '../../db/errors.js';
import { readFeedHorizon } from '../../directory/feed-horizon.js';
import type { Resolvers } from '../generated/resolvers.js';
import type { LiveEvent, LiveEventOf, LiveKind } from '../subscriptions/events.js';
import { LiveRequest } from '../subscriptions/request.js';
import { listTenant } from '../scope.js';

interface SubscriptionArgs {
  tenantId?: string | null;
  after?: string | null;
}

function subscription<K extends LiveKind>(kind: K) {
  return {
    subscribe: async (_root: unknown, args: SubscriptionArgs, ctx: GraphQLContext): Promise<LiveRequest<K>> => {
      if (!ctx.live) {
        throw apiError('BAD_USER_INPUT', 'subscriptions are served over WebSocket at /graphql (the graphql-ws protocol)');
      }
      // Checked before joining: a bad cursor or an invisible tenant is an error, not a silent stream.
      const after = args.after === null || args.after === undefined ? undefined : parseFeedCursor(args.after, 'after');
      const tenants = await listTenant(ctx, args.tenantId);
      // One tenant: rows are matched by it alone; several (a token's) or all: by what the viewer may see.
      const tenantId = tenants?.length === 1 ? tenants[0]! : null;
      // Refused at once when already expired. The stream checks again as it reads history,
      // waiting out an outage, so a database that is down now only defers the check to it.
      if (after !== undefined) {
        const horizon = await readFeedHorizon(ctx.db).catch((error: unknown) => {
          if (isUnavailable(error)) return 0;
          throw error;
        });
        if (after < horizon) throw cursorExpired('after');
      }
      return new LiveRequest({ viewer: ctx.viewer, kind, tenantId, after });
    },
    // The event is the payload; live/fanout.ts runs its selection with the event's loaders.
    resolve: (event: LiveEventOf[K]): LiveEventOf[K] => event,
  };
}

/** The fields every change payload shares. */
const common = {
  cursor: (e: LiveEvent<unknown>) => feedCursor(e.change.seq),
  // A member joining or leaving a group is, for the member and the group, an update.
  action: (e: LiveEvent<unknown>) => (e.membership ? 'UPDATED' : e.change.action),
  occurredAt: (e: LiveEvent<unknown>) => e.change.occurredAt,
  recordedAt: (e: LiveEvent<unknown>) => e.change.recordedAt,
} as const;

export const subscriptionResolvers: Resolvers = {
  Subscription: {
    tenantChanged: subscription('TENANT'),
    connectionChanged: subscription('CONNECTION'),
    memberChanged: subscription('MEMBER'),
    groupChanged: subscription('GROUP'),
  },
  TenantChange: { ...common, tenant: (e) => e.subject },
  ConnectionChange: { ...common, connection: (e) => e.subject },
  MemberChange: { ...common, member: (e) => e.subject, membership: (e) => e.membership },
  GroupChange: { ...common, group: (e) => e.subject, membership: (e) => e.membership },
};
