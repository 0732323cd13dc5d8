// Applying a delivery's changes inside an ingest transaction: the batch's rows locked ahead, each
// change's parents found or created as placeholders, the ordering guard's decision (decide.ts)
// written, what a directory's end takes with it (ends.ts), and what changed put on the feed.
import { randomUUID } from 'node:crypto';
import { hashJson } from '../lib/hash.js';
import { changeAction, decide, outcomeOf, UNSEEN, type Decision, type Visible } from './decide.js';
import type { DeliveryRecord } from './delivery-rows.js';
import { directoryOf, endedWith } from './ends.js';
import {
  adoptTenant,
  dataColumns,
  directoryEnds,
  findRow,
  insertRow,
  insertRows,
  keyColumns,
  lockRow,
  lockRows,
  rowKey,
  updateRows,
  type LockedRow,
  type ResolvedRefs,
  type RowValues,
} from './rows.js';
import type {
  ChangeOutcome,
  Delivery,
  DeliveryStatus,
  DirectoryChange,
  EntityKey,
  EntityKind,
  IngestResult,
  Json,
  TenantRef,
} from './types.js';
import { versionTime } from './version.js';
import { hold, settle, type Work } from './work.js';

const NO_REFS: ResolvedRefs = { tenantId: null, connectionId: null, groupId: null, memberId: null };

/**
 * Locks every row the batch's changes name, one statement per kind, in a consistent order:
 * a batch then waits on another batch's rows, never deadlocks with it over them, and each
 * change finds its row without a round trip of its own.
 */
export async function lockAhead(work: Work, batch: Delivery[]): Promise<void> {
  const keys = new Map<EntityKind, Map<string, DirectoryChange['key']>>();
  const directories = new Map<string, EntityKey>();
  for (const delivery of batch) {
    for (const event of delivery.events) {
      for (const change of event.changes) {
        const ofKind = keys.get(change.entity) ?? new Map<string, DirectoryChange['key']>();
        ofKind.set(rowKey(change.entity, change.key), change.key);
        keys.set(change.entity, ofKind);
        const directory = directoryOf(change);
        if (directory) directories.set(rowKey('CONNECTION', directory), directory);
      }
    }
  }
  // One statement per kind, all sent at once; each locks its rows in its keys' order.
  const [rows, ends] = await Promise.all([
    Promise.all([...keys].map(([kind, ofKind]) => lockRows(work.tx, kind, [...ofKind.values()]))),
    directoryEnds(work.tx, [...directories.values()]),
  ]);
  for (const found of rows) for (const [k, row] of found) work.locked.set(k, row);
  for (const [k, version] of ends) work.directoryEnds.set(k, version);
}

/** A change's row, locked: as this transaction has left it, or read now. */
async function lockedRow(work: Work, change: DirectoryChange): Promise<LockedRow | undefined> {
  const k = rowKey(change.entity, change.key);
  if (work.locked.has(k)) return work.locked.get(k) ?? undefined;
  await settle(work);
  return lockRow(work.tx, change.entity, change.key);
}

/** Applies a delivery's events and records what became of them on its row. */
export async function applyEvents(
  work: Work,
  deliveryId: string,
  delivery: Delivery,
): Promise<{ result: IngestResult; record: DeliveryRecord }> {
  work.deliveryId = deliveryId;
  work.trace = delivery.trace;
  const fedBefore = work.feed.length;
  const outcomes: Json[] = [];
  const counts: Record<ChangeOutcome, number> = { applied: 0, stale: 0, unchanged: 0 };
  const ignored: string[] = [];
  const rejected: string[] = [];
  for (const event of delivery.events) {
    if (event.rejected !== undefined) {
      rejected.push(event.type ? `${event.type}: ${event.rejected}` : event.rejected);
      outcomes.push({ type: event.type, rejected: event.rejected });
      continue;
    }
    if (event.ignored !== undefined) {
      ignored.push(`${event.type}: ${event.ignored}`);
      outcomes.push({ type: event.type, ignored: event.ignored });
      continue;
    }
    const results: Json[] = [];
    for (const change of event.changes) {
      const outcome = await applyChange(work, change);
      counts[outcome]++;
      results.push({
        entity: change.entity,
        externalId: change.key.externalId,
        op: change.op,
        version: change.version,
        outcome,
      });
      for (const ended of await endedWith(work, change)) {
        const endedOutcome = await applyChange(work, ended);
        counts[endedOutcome]++;
        results.push({ entity: ended.entity, externalId: ended.key.externalId, op: 'delete', version: ended.version, outcome: endedOutcome, endedWithDirectory: true });
      }
    }
    outcomes.push({ type: event.type, changes: results, ...(event.warnings?.length ? { warnings: event.warnings } : {}) });
  }

  const status: DeliveryStatus =
    rejected.length > 0
      ? 'rejected'
      : counts.applied > 0
        ? 'applied'
        : counts.stale > 0
          ? 'stale'
          : ignored.length === delivery.events.length
            ? 'ignored'
            : 'unchanged';
  const reasons = [...rejected, ...ignored];
  return {
    result: { deliveryId, status, applied: work.feed.length - fedBefore, rejected: rejected.length },
    record: {
      id: deliveryId,
      status,
      outcomes,
      reason: reasons.length > 0 ? reasons.join('; ') : null,
      eventTypes: delivery.events.map((e) => e.type),
    },
  };
}

async function applyChange(work: Work, change: DirectoryChange): Promise<ChangeOutcome> {
  const { tx } = work;
  const refs = await resolveRefs(work, change);
  const hash = change.data === undefined ? null : hashJson(change.data);
  const incoming = { op: change.op, version: change.version, dataHash: hash };
  const k = rowKey(change.entity, change.key);

  // Decides against a stored row and writes what the decision changes.
  const applyTo = async (stored: LockedRow): Promise<Decision> => {
    const d = decide(stored, incoming);
    const patch = patchFor(change, refs, hash, d);
    if (!patch) return d;
    const values = { ...patch, id: stored.id };
    if (work.pipelined) await hold(work, k, { kind: change.entity, op: 'update', values });
    else await updateRows(tx, change.entity, [values]);
    return d;
  };

  let row = await lockedRow(work, change);
  let before: Visible | undefined = row && visible(row);
  let decision: Decision;
  if (row) {
    decision = await applyTo(row);
  } else {
    // A new row is inserted with what the change decides for it, in one statement, under an
    // id made here, so that nothing waits for the insert to learn it.
    decision = decide(UNSEEN, incoming);
    const tenantId = change.entity === 'TENANT' ? null : refs.tenantId;
    const id = randomUUID();
    const values: RowValues = {
      ...keyColumns(change.entity, change.key),
      ...(tenantId ? { tenantId } : {}),
      ...patchFor(change, refs, hash, decision),
      id,
    };
    if (work.pipelined) {
      await hold(work, k, { kind: change.entity, op: 'insert', values });
      row = { ...UNSEEN, id, tenantId };
    } else if ((await insertRows(tx, change.entity, [values])).has(id)) {
      row = { ...UNSEEN, id, tenantId };
    } else {
      // Another transaction inserted it first and has committed by now.
      row = await lockRow(tx, change.entity, change.key);
      if (!row) throw new Error(`${change.entity} ${change.key.externalId} vanished`);
      before = visible(row);
      decision = await applyTo(row);
    }
  }
  const stored = afterDecision(row, decision, change, refs, hash);
  work.locked.set(k, stored);
  // A child later in the transaction (a membership of this member) finds this row's id here
  // instead of sending what is held to read it back. Its insert is sent after this row's
  // (settle sends tables in WRITE_ORDER); were it ever not, the foreign key would fail the
  // transaction and it would be applied again one write at a time.
  if (change.entity !== 'MEMBERSHIP' && (change.entity === 'TENANT' || stored.tenantId !== null)) {
    work.learned.set(k, row.id);
  }

  const after: Visible = {
    hasData: decision.takeData || row.dataHash !== null,
    deleted: decision.live ? decision.live.deleted : row.deleted,
    status: decision.takeData ? statusOf(change) : row.status,
    dataHash: decision.takeData ? hash : row.dataHash,
  };
  const action = changeAction(before, after);
  if (action) {
    work.feed.push({
      deliveryId: work.deliveryId,
      traceParent: work.trace,
      tenantId:
        change.entity === 'TENANT'
          ? row.id
          : decision.takeData
            ? refs.tenantId
            : row.tenantId,
      entity: change.entity,
      entityId: row.id,
      action,
      occurredAt: versionTime(change.version),
    });
  }
  return outcomeOf(action, decision);
}

/** Finds or creates (as placeholders) the rows a change's data points at. */
async function resolveRefs(work: Work, change: DirectoryChange): Promise<ResolvedRefs> {
  if (change.entity === 'TENANT' || change.data === undefined) return NO_REFS;
  const tenantId = await ensureTenant(work, change.data.tenant, versionTime(change.version));
  switch (change.entity) {
    case 'CONNECTION':
      return { ...NO_REFS, tenantId };
    case 'MEMBER':
    case 'GROUP': {
      const directory = change.data.directory;
      const connectionId = directory
        ? await ensureParent(work, 'CONNECTION', { ...directory, kind: 'DIRECTORY' }, tenantId)
        : null;
      return { ...NO_REFS, tenantId, connectionId };
    }
    case 'MEMBERSHIP':
      return {
        ...NO_REFS,
        tenantId,
        groupId: await ensureParent(work, 'GROUP', change.data.group, tenantId),
        memberId: await ensureParent(work, 'MEMBER', change.data.member, tenantId),
      };
  }
}

async function ensureTenant(work: Work, ref: TenantRef, occurredAt: Date): Promise<string> {
  const key = { provider: ref.provider, externalId: ref.externalId, product: ref.product };
  const cacheKey = rowKey('TENANT', key);
  const known = work.parents.get(cacheKey) ?? work.learned.get(cacheKey);
  if (known) return known;

  // Reads (and maybe writes) in place: what is in flight lands first.
  await settle(work);
  let row = await findRow(work.tx, 'TENANT', key);
  if (!row) {
    work.locked.delete(cacheKey);
    // A provider without tenant events implies the tenant's whole description; otherwise
    // the tenant is a placeholder until its own event arrives.
    const initial = ref.implied ? { ...ref.implied, dataHash: hashJson(ref.implied) } : {};
    row = await insertRow(work.tx, 'TENANT', key, initial);
    if (row && ref.implied) {
      work.feed.push({
        deliveryId: work.deliveryId,
      traceParent: work.trace,
        tenantId: row.id,
        entity: 'TENANT',
        entityId: row.id,
        action: 'CREATED',
        occurredAt,
      });
    }
    row ??= await findRow(work.tx, 'TENANT', key);
    if (!row) throw new Error(`tenant ${ref.externalId} vanished`);
  }
  work.learned.set(cacheKey, row.id);
  return row.id;
}

async function ensureParent(
  work: Work,
  kind: EntityKind,
  key: EntityKey & { kind?: string },
  tenantId: string,
): Promise<string> {
  const cacheKey = rowKey(kind, key);
  const known = work.parents.get(cacheKey) ?? work.learned.get(cacheKey);
  if (known) return known;

  await settle(work);
  let row: LockedRow | undefined = await findRow(work.tx, kind, key);
  // What was locked ahead for this row no longer says what it holds; and a directory first
  // seen now may have been created (and ended) since the batch read ahead.
  work.locked.delete(cacheKey);
  work.directoryEnds.delete(cacheKey);
  if (row) {
    if (row.tenantId === null && row.dataHash === null) await adoptTenant(work.tx, kind, row.id, tenantId);
  } else {
    row = (await insertRow(work.tx, kind, key, { tenantId })) ?? (await findRow(work.tx, kind, key));
    if (!row) throw new Error(`${kind} ${key.externalId} vanished`);
  }
  // The row has a tenant now (its own, or the one just given): nothing left to adopt.
  work.learned.set(cacheKey, row.id);
  return row.id;
}

/** A row as a change leaves it: what the decision wrote over what was there. */
function afterDecision(
  row: LockedRow,
  decision: Decision,
  change: DirectoryChange,
  refs: ResolvedRefs,
  hash: string | null,
): LockedRow {
  const { live, takeData } = decision;
  return {
    id: row.id,
    liveVersion: live ? live.version : row.liveVersion,
    deleted: live ? live.deleted : row.deleted,
    dataVersion: takeData ? change.version : row.dataVersion,
    dataHash: takeData ? hash : row.dataHash,
    dataFromSnapshot: takeData ? change.op === 'snapshot' : row.dataFromSnapshot,
    // A tenant's row stands for its own tenant; data names the others' (dataColumns).
    tenantId: change.entity === 'TENANT' ? row.id : takeData ? refs.tenantId : row.tenantId,
    status: takeData ? statusOf(change) : row.status,
  };
}

/** The columns a decision writes, or undefined when it writes nothing. */
function patchFor(
  change: DirectoryChange,
  refs: ResolvedRefs,
  hash: string | null,
  decision: Decision,
): Record<string, unknown> | undefined {
  if (!decision.live && !decision.takeData) return undefined;
  const patch: Record<string, unknown> = {};
  if (decision.live) {
    patch.liveVersion = decision.live.version;
    patch.deletedAt = decision.live.deleted ? versionTime(decision.live.version) : null;
  }
  if (decision.takeData) {
    Object.assign(patch, dataColumns(change, refs), {
      dataVersion: change.version,
      dataHash: hash,
      dataFromSnapshot: change.op === 'snapshot',
    });
  }
  return patch;
}

function visible(row: LockedRow): Visible {
  return { hasData: row.dataHash !== null, deleted: row.deleted, status: row.status, dataHash: row.dataHash };
}

function statusOf(change: DirectoryChange): string | null {
  if (change.entity === 'CONNECTION' || change.entity === 'MEMBER') return change.data?.status ?? null;
  return null;
}
