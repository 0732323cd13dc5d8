// Field resolvers shared by every list type: pageInfo and totalCount are computed only when
// a client selects them.
import type { PageInfoResolvers } from '../generated/resolvers.js';
import type { Page } from '../pages.js';

export const pageInfoResolvers: PageInfoResolvers = {
  hasNextPage: (p) => p.hasNextPage(),
  hasPreviousPage: (p) => p.hasPreviousPage(),
  startCursor: (p) => p.startCursor,
  endCursor: (p) => p.endCursor,
};

export const listResolvers = {
  totalCount: (page: Page<unknown>) => page.totalCount(),
};

export const memberListResolvers = {
  ...listResolvers,
  countsByStatus: (page: Page<unknown>) => page.countsByStatus(),
};
