// The ordering guard, as pure functions over what is stored and what arrived.
//
// Each entity is two last-writer-wins registers, both keyed by version:
//   liveness: set by upserts and deletes; on an exact version tie a delete wins.
//   data:     set by any change that carries the object's state (upserts, snapshots, deletes
//             that carry their last state). Ranked by (own event over snapshot, version,
//             data hash), so a snapshot only fills in what the object's own events never
//             said, and an exact tie is still decided the same way in every order.
// Both registers are functions of the set of changes seen, not of their order, so any
// permutation of a stream (with duplicates) ends in the same state. Keeping data separate is
// what lets a late, older create fill in a tombstone that arrived first, exactly as if the
// events had arrived in order, without bringing the object back.
import type { ChangeAction, ChangeOp, ChangeOutcome } from './types.js';

export interface StoredState {
  liveVersion: string | null;
  deleted: boolean;
  dataVersion: string | null;
  /** null: a placeholder that has never had data. */
  dataHash: string | null;
  dataFromSnapshot: boolean;
  status: string | null;
}

/** A row that has never been stored: what a change is decided against when it is new. */
export const UNSEEN: StoredState = {
  liveVersion: null,
  deleted: false,
  dataVersion: null,
  dataHash: null,
  dataFromSnapshot: false,
  status: null,
};

export interface IncomingChange {
  op: ChangeOp;
  version: string;
  /** null when the change carries no data (a bare delete). */
  dataHash: string | null;
}

export interface Decision {
  /** New liveness to store, or null to keep the stored one. */
  live: { version: string; deleted: boolean } | null;
  /** Whether the change's data replaces the stored data. */
  takeData: boolean;
  /** The change lost to something newer: recorded, not applied. */
  stale: boolean;
}

export function decide(stored: StoredState, change: IncomingChange): Decision {
  let live: Decision['live'] = null;
  let stale = false;

  if (change.op !== 'snapshot') {
    const isDelete = change.op === 'delete';
    const current = stored.liveVersion;
    if (current === null || change.version > current) {
      live = { version: change.version, deleted: isDelete };
    } else if (change.version === current) {
      if (isDelete && !stored.deleted) live = { version: change.version, deleted: true };
      else if (!isDelete && stored.deleted) stale = true;
    } else {
      stale = true;
    }
  }

  let takeData = false;
  if (change.dataHash !== null) {
    takeData =
      stored.dataHash === null ||
      stored.dataVersion === null ||
      compareRank(
        [change.op === 'snapshot' ? 0 : 1, change.version, change.dataHash],
        [stored.dataFromSnapshot ? 0 : 1, stored.dataVersion, stored.dataHash],
      ) > 0;
  }

  return { live, takeData, stale };
}

type Rank = [number, string, string];

function compareRank(a: Rank, b: Rank): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

/** What a subscriber can see of a row: enough to name what changed. */
export interface Visible {
  hasData: boolean;
  deleted: boolean;
  status: string | null;
  dataHash: string | null;
}

/**
 * The feed action for a row going from `before` (undefined: the row did not exist) to
 * `after`, or null when nothing a reader can see changed.
 */
export function changeAction(before: Visible | undefined, after: Visible): ChangeAction | null {
  const wasDeleted = before?.deleted ?? false;
  const wasPresent = before !== undefined && before.hasData && !before.deleted;
  const isPresent = after.hasData && !after.deleted;

  if (after.deleted) return wasDeleted ? null : 'DELETED';
  if (!isPresent) return null; // still a placeholder
  if (!wasPresent || before === undefined) return 'CREATED';
  if (before.status !== after.status) {
    if (after.status === 'ACTIVE') return 'ACTIVATED';
    if (after.status === 'INACTIVE') return 'DEACTIVATED';
    return 'UPDATED';
  }
  return before.dataHash === after.dataHash ? null : 'UPDATED';
}

export function outcomeOf(action: ChangeAction | null, decision: Decision): ChangeOutcome {
  if (action !== null) return 'applied';
  return decision.stale ? 'stale' : 'unchanged';
}
