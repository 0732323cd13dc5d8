// The event a feed row becomes for a subscription (src/live/spec.ts says which rows concern
// it): the object it is about as it is now, confined to what its viewer may see.
import { canSee } from '../../auth/viewer.js';
import type { FeedRow } from '../../live/follower.js';
import type { LiveKind, LiveSpec } from '../../live/spec.js';
import type { Loaders } from '../loaders.js';
import type { LiveEventOf } from './events.js';

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
