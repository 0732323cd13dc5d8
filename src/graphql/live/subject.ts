// What one subscription follows: which feed rows concern it, and the event each row becomes
// (the object it is about as it is now), confined to what its viewer may see.
import type { Viewer } from '../../auth/viewer.js';
import type { FeedRow } from '../../directory/feed-follower.js';
import type { EntityKind } from '../../directory/types.js';
import type { Loaders } from '../loaders.js';
import { canSee } from '../scope.js';
import type { LiveEventOf, LiveKind } from './events.js';

export interface LiveSpec<K extends LiveKind = LiveKind> {
  viewer: Viewer;
  kind: K;
  /** Confine to one tenant (already checked visible), or null for all the viewer can see. */
  tenantId: string | null;
  /** Replay from after this seq first. */
  after: number | undefined;
}

/** Feed entities a subscription to `kind` receives: members and groups also hear of memberships. */
export const entitiesOf = (kind: LiveKind): EntityKind[] =>
  kind === 'MEMBER' || kind === 'GROUP' ? [kind, 'MEMBERSHIP'] : [kind];

export function matches(spec: LiveSpec, row: FeedRow): boolean {
  if (row.entity !== spec.kind && !(row.entity === 'MEMBERSHIP' && (spec.kind === 'MEMBER' || spec.kind === 'GROUP'))) return false;
  return spec.tenantId === null ? canSee(spec.viewer, row.tenantId) : row.tenantId === spec.tenantId;
}

/** The event for a row, or null when its object is gone or not visible to this viewer. */
export async function eventFor<K extends LiveKind>(spec: LiveSpec<K>, row: FeedRow, loaders: Loaders): Promise<LiveEventOf[K] | null> {
  const { kind, viewer } = spec;
  let membership = null;
  let subjectId: string | null = row.entityId;
  if (row.entity === 'MEMBERSHIP') {
    membership = (await loaders.membership.load(row.entityId)) ?? null;
    subjectId = membership ? (kind === 'MEMBER' ? membership.memberId : membership.groupId) : null;
  }
  if (subjectId === null) return null;
  // Each case builds the event of its own kind, which TypeScript cannot narrow K from.
  let event: LiveEventOf[LiveKind] | null = null;
  switch (kind as LiveKind) {
    case 'TENANT': {
      const subject = await loaders.tenant.load(subjectId);
      if (subject && canSee(viewer, subject.id)) event = { change: row, subject, membership, loaders };
      break;
    }
    case 'CONNECTION': {
      const subject = await loaders.connection.load(subjectId);
      if (subject && canSee(viewer, subject.tenantId)) event = { change: row, subject, membership, loaders };
      break;
    }
    case 'MEMBER': {
      const subject = await loaders.member.load(subjectId);
      if (subject && canSee(viewer, subject.tenantId)) event = { change: row, subject, membership, loaders };
      break;
    }
    case 'GROUP': {
      const subject = await loaders.group.load(subjectId);
      if (subject && canSee(viewer, subject.tenantId)) event = { change: row, subject, membership, loaders };
      break;
    }
  }
  return event as LiveEventOf[K] | null;
}
