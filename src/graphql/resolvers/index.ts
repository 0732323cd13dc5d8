// All resolvers, typed by the code generated from schema.graphql.
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Resolvers } from '../generated/resolvers.js';
import { appRulesResolvers } from './app-rules.js';
import { entityResolvers } from './entities.js';
import { feedResolvers } from './feed.js';
import { listResolvers, memberListResolvers, pageInfoResolvers } from './pages.js';
import { queryResolvers } from './query.js';
import { reconcileResolvers } from './reconcile.js';
import { replayResolvers } from './replay.js';
import { subscriptionResolvers } from './subscriptions.js';

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
  ...queryResolvers,
  ...entityResolvers,
  ...feedResolvers,
  ...subscriptionResolvers,
  ...replayResolvers,
  Tenant: { ...entityResolvers.Tenant, ...appRulesResolvers.Tenant },
  Member: { ...entityResolvers.Member, ...appRulesResolvers.Member },
  Mutation: { ...replayResolvers.Mutation, ...reconcileResolvers.Mutation, ...appRulesResolvers.Mutation },
  Query: { ...queryResolvers.Query, ...reconcileResolvers.Query },
  ReconcileRun: reconcileResolvers.ReconcileRun,
  PageInfo: pageInfoResolvers,
  TenantConnection: listResolvers,
  ConnectionConnection: listResolvers,
  MemberConnection: memberListResolvers,
  GroupConnection: listResolvers,
  ChangeConnection: listResolvers,
  DeliveryConnection: listResolvers,
};
