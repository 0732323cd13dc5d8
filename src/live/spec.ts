// What one subscription follows: a kind of object, all the tenants its viewer may see or one of
// them, and where its stream starts. Which feed rows concern it is decided here, before any
// object is loaded; what a row becomes for the subscriber is the transport's business.
import { canSee, type Viewer } from '../auth/viewer.js';
import type { EntityKind } from '../directory/types.js';
import type { FeedRow } from './follower.js';

/** The four kinds a client can subscribe to. */
export type LiveKind = 'TENANT' | 'CONNECTION' | 'MEMBER' | 'GROUP';

export interface LiveSpec<K extends LiveKind = LiveKind> {
  viewer: Viewer;
  kind: K;
  /** Confine to one tenant (already checked visible), or null for all the viewer can see. */
  tenantId: string | null;
  /** Replay from after this seq first. */
  after: number | undefined;
}

/** Feed entities a subscription to `kind` receives: members and groups also hear of memberships. */
export const entitiesOf = (kind: LiveKind): EntityKind[] => (kind === 'MEMBER' || kind === 'GROUP' ? [kind, 'MEMBERSHIP'] : [kind]);

export function matches(spec: LiveSpec, row: FeedRow): boolean {
  if (row.entity !== spec.kind && !(row.entity === 'MEMBERSHIP' && (spec.kind === 'MEMBER' || spec.kind === 'GROUP'))) return false;
  return spec.tenantId === null ? canSee(spec.viewer, row.tenantId) : row.tenantId === spec.tenantId;
}
