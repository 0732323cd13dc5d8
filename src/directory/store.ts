// Stores deliveries and applies their changes: record each delivery (idempotent on its keys),
// apply each change under the ordering guard, append what changed to the feed. Deliveries that
// arrive while a transaction is at work are applied together in the next one (group commit,
// batcher.ts): one commit, one turn of the feed lock and one notification for all of them, in
// arrival order. Each delivery is all or nothing, and acknowledged only once the transaction
// holding it has committed; one that fails is retried alone, so it never fails its batchmates.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { isRetryable } from '../db/errors.js';
import { connections, deliveries, deliveryKeys, groups, members } from '../db/schema.js';
import { createBatcher } from './batcher.js';
import { hashJson } from '../lib/hash.js';
import { resultRows } from '../db/result.js';
import { uuidArray } from '../db/uuid-array.js';
import {
  changeAction,
  decide,
  outcomeOf,
  UNSEEN,
  type Decision,
  type Visible,
} from './decide.js';
import { appendToFeed, type FeedEntry } from './feed.js';
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
  scopeOf,
  updateRows,
  type LockedRow,
  type ResolvedRefs,
  type RowValues,
  type Tx,
} from './rows.js';
import {
  combinedStatus,
  type ChangeOutcome,
  type Delivery,
  type DeliveryStatus,
  type DirectoryChange,
  type EntityKey,
  type EntityKind,
  type IngestResult,
  type Json,
  type Provider,
  type TenantRef,
} from './types.js';
import { versionTime } from './version.js';

export interface DirectoryStore {
  ingest(delivery: Delivery): Promise<IngestResult>;
  /**
   * Applies a stored delivery's events again, as read by today's adapters, in place: the same
   * delivery row gets the new status and outcomes, and only what actually changes reaches the
   * feed. Under the ordering guard like any delivery, so an old event never overwrites newer
   * state, and idempotent. Replays of one delivery wait for each other (a row lock), across
   * processes too. Throws DeliveryNotFound for an unknown id.
   */
  replay(deliveryId: string, delivery: Delivery): Promise<IngestResult>;
}

export class DeliveryNotFound extends Error {
  constructor(readonly deliveryId: string) {
    super(`no delivery ${deliveryId}`);
  }
}

const MAX_ATTEMPTS = 6;

/** Most body bytes applied in one transaction (one delivery may be bigger, alone). */
const BATCH_MAX_BYTES = 8 * 1024 * 1024;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface StoreOptions {
  /** Most deliveries applied in one transaction (default 50). */
  batchMax?: number;
  /** Most ingest transactions at work at once (default 1). */
  concurrency?: number;
  /**
   * Hold a transaction's change writes and send them together (default true). Off, each is
   * sent and awaited as it is decided: the plain path every failure falls back to, and what
   * tests compare the fast path against.
   */
  pipelined?: boolean;
  /**
   * Told after each ingest or replay transaction commits: how many deliveries it carried, the
   * changes it put on the feed, and how long it took (for the metrics).
   */
  onCommitted?: (committed: { deliveries: number; changes: readonly FeedEntry[]; seconds: number }) => void;
  /** Most events applied in one transaction (default 100); a delivery with more goes in parts. */
  partEvents?: number;
  /** Most events one delivery may carry (WEBHOOK_MAX_EVENTS, default 1,000): more is kept whole as rejected. */
  maxEvents?: number;
}

/** What a delivery's row is given once its events are applied. */
interface DeliveryRecord {
  id: string;
  status: DeliveryStatus;
  outcomes: Json[];
  reason: string | null;
  eventTypes: string[];
  /** A part of a delivery applied in parts: its outcomes and reason add to the row's. */
  append?: boolean;
}

/** State of one transaction (of one delivery or of a batch). */
interface Work {
  tx: Tx;
  /** The delivery being applied: what its feed entries name. */
  deliveryId: string;
  feed: FeedEntry[];
  /** Parent ids learned in this transaction; cached only once it commits. */
  learned: Map<string, string>;
  /**
   * The batch's rows as this transaction has left them (null: no row), by rowKey: read and
   * locked ahead, then kept up to date by each change applied. A row something else writes
   * (a parent adopting its tenant) is dropped from here and read again.
   */
  locked: Map<string, LockedRow | null>;
  /**
   * Whether change writes are held and sent together (one statement per table and column
   * set, all in one round trip) when the transaction next reads or ends, instead of one by
   * one as they are decided.
   */
  pipelined: boolean;
  /** Writes held (pipelined mode). */
  held: HeldWrite[];
  /** Rows those writes touch: another write to one of them sends them first. */
  unsettled: Set<string>;
  /** When a directory ended (null: it has not), by the directory's rowKey, read ahead. */
  directoryEnds: Map<string, string | null>;
}

/**
 * A pipelined insert found its row already there: another transaction committed it after
 * this one read ahead. What was decided after it assumed a new row, so the transaction fails
 * and its deliveries are applied again one write at a time, which handles the race in place.
 */
class InsertRaced extends Error {}

/** A change's write, held until the transaction next reads or ends. */
interface HeldWrite {
  kind: EntityKind;
  op: 'insert' | 'update';
  values: RowValues;
}

/** Tables in the order their rows are written: a table before those that refer to it. */
const WRITE_ORDER: EntityKind[] = ['TENANT', 'CONNECTION', 'MEMBER', 'GROUP', 'MEMBERSHIP'];

const NO_REFS: ResolvedRefs = { tenantId: null, connectionId: null, groupId: null, memberId: null };

export function createDirectoryStore(db: Database, options: StoreOptions = {}): DirectoryStore {
  // Rows are never removed (deletes leave tombstones), so parent ids can be cached: tenants at
  // once, other parents once they have a tenant (until then a child may still give them one).
  const parentIds = new Map<string, string>();
  const knownId = (work: Work, cacheKey: string) => parentIds.get(cacheKey) ?? work.learned.get(cacheKey);

  /**
   * Runs `work` in a transaction, again after a deadlock or serialization failure (deliveries
   * touching the same rows in a different order); parent ids it learned are cached once it
   * has committed.
   */
  async function inRetriedTransaction<T>(pipelined: boolean, deliveryCount: number, work: (w: Work) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const learned = new Map<string, string>();
      const started = performance.now();
      let feed: FeedEntry[] = [];
      try {
        const result = await db.transaction((tx) =>
          work({
            tx,
            deliveryId: '',
            feed: (feed = []),
            learned,
            locked: new Map(),
            pipelined,
            held: [],
            unsettled: new Set(),
            directoryEnds: new Map(),
          }),
        );
        for (const [k, v] of learned) parentIds.set(k, v);
        options.onCommitted?.({ deliveries: deliveryCount, changes: feed, seconds: (performance.now() - started) / 1000 });
        return result;
      } catch (error) {
        if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      }
    }
  }

  /** Applies deliveries in one transaction, in order; each result is its delivery's. */
  async function ingestTogether(batch: Delivery[], pipelined: boolean): Promise<IngestResult[]> {
    return inRetriedTransaction(pipelined, batch.length, async (work) => {
      const results: IngestResult[] = [];
      const records: DeliveryRecord[] = [];
      // A part continues a delivery already stored: only the others are claimed.
      const fresh = batch.filter((d) => !d.part);
      const applying = batch.filter((d) => !d.opensParts);
      // Sent together: one round trip for the claim and the reads ahead.
      const [claimed] = await Promise.all([
        fresh.length > 0 ? claimAll(work.tx, fresh) : [],
        applying.length > 1 ? lockAhead(work, applying) : undefined,
      ]);
      let next = 0;
      for (const delivery of batch) {
        if (delivery.part) {
          const { deliveryId, last, statusSoFar } = delivery.part;
          const applied = await applyEvents(work, deliveryId, delivery);
          // Until its last part the row says it is being applied; then what all its parts did.
          const status = last ? combinedStatus(statusSoFar, applied.record.status) : 'applying';
          records.push({ ...applied.record, status, append: true });
          results.push(applied.result);
          continue;
        }
        const deliveryId = claimed[next++];
        if (deliveryId === undefined) {
          results.push(await recordDuplicate(work.tx, delivery));
          continue;
        }
        if (delivery.opensParts) {
          records.push({ id: deliveryId, status: 'applying', outcomes: [], reason: null, eventTypes: delivery.events.map((e) => e.type) });
          results.push({ deliveryId, status: 'applying', applied: 0, rejected: 0 });
          continue;
        }
        const applied = await applyEvents(work, deliveryId, delivery);
        records.push(applied.record);
        results.push(applied.result);
      }
      await settle(work);
      await finish(work, records);
      return results;
    });
  }

  // Writes are pipelined first. A transaction that fails for a reason other than a retryable
  // conflict is applied again one write at a time, and a batch one delivery at a time: the
  // delivery at fault fails alone, its batchmates are stored, and no error is final until it
  // has been seen without pipelining.
  const pipelined = options.pipelined ?? true;
  const batcher = createBatcher<Delivery, Settled<IngestResult>>({
    run: async (batch) => {
      const alone = (delivery: Delivery, pipelined: boolean) =>
        ingestTogether([delivery], pipelined).then(
          ([value]): Settled<IngestResult> => ({ ok: true, value: value! }),
          (error: unknown): Settled<IngestResult> => ({ ok: false, error }),
        );
      if (batch.length === 1) {
        if (!pipelined) return [await alone(batch[0]!, false)];
        const first = await alone(batch[0]!, true);
        return [first.ok ? first : await alone(batch[0]!, false)];
      }
      try {
        return (await ingestTogether(batch, pipelined)).map((value): Settled<IngestResult> => ({ ok: true, value }));
      } catch {
        // One after the other, in arrival order: as the batch would have applied them.
        const settled: Settled<IngestResult>[] = [];
        for (const delivery of batch) settled.push(await alone(delivery, false));
        return settled;
      }
    },
    maxBatch: options.batchMax ?? 50,
    // One statement carries the batch's bodies: keep it to a few MiB, whatever the batch size.
    weigh: (delivery) => delivery.bytes ?? 0,
    maxWeight: BATCH_MAX_BYTES,
    maxInFlight: options.concurrency ?? 1,
  });

  async function submit(delivery: Delivery): Promise<IngestResult> {
    const settled = await batcher.submit(delivery);
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  const partEvents = options.partEvents ?? 100;
  const maxEvents = options.maxEvents ?? 1000;

  async function ingest(delivery: Delivery): Promise<IngestResult> {
    const taken = delivery.events.length > maxEvents ? oversized(delivery, maxEvents) : delivery;
    // An opening already (ingestInParts' own, or a test's): stored as it says, nothing applied.
    return taken.events.length > partEvents && !taken.opensParts ? ingestInParts(taken) : submit(taken);
  }

  /**
   * A delivery with more events than one transaction takes (a big Polis batch), applied in
   * parts. First it is stored whole (keys claimed, body kept) as `applying`, with nothing
   * applied: from then on it cannot be lost, and a retry is a duplicate. Then its events go a
   * part at a time, each part a transaction queued behind whatever arrived meanwhile, so one
   * sender's big batch holds up other senders for one part at a time, not for all of it. The
   * last part gives the row its status. A process that stops half way leaves the row
   * `applying`; it is applied again whole later (src/unfinished.ts), which the ordering guard makes
   * safe to repeat.
   */
  async function ingestInParts(delivery: Delivery): Promise<IngestResult> {
    const opened = await submit({ ...delivery, opensParts: true });
    if (opened.status === 'duplicate') return opened;
    let status: DeliveryStatus | undefined;
    let applied = 0;
    let rejected = 0;
    for (let start = 0; start < delivery.events.length; start += partEvents) {
      const last = start + partEvents >= delivery.events.length;
      const part = await submit({
        ...delivery,
        keys: [],
        bytes: 0,
        events: delivery.events.slice(start, start + partEvents),
        part: { deliveryId: opened.deliveryId, last, statusSoFar: status },
      });
      status = combinedStatus(status, part.status as DeliveryStatus);
      applied += part.applied;
      rejected += part.rejected;
    }
    return { deliveryId: opened.deliveryId, status: status!, applied, rejected };
  }

  async function replay(deliveryId: string, delivery: Delivery): Promise<IngestResult> {
    return inRetriedTransaction(false, 1, async (work) => {
      const [row] = resultRows<{ id: string }>(
        await work.tx.execute(sql`select id from ${deliveries} where id = ${deliveryId}::uuid for update`),
      );
      if (!row) throw new DeliveryNotFound(deliveryId);
      const applied = await applyEvents(work, deliveryId, delivery);
      await finish(work, [applied.record]);
      return applied.result;
    });
  }

  /**
   * Locks every row the batch's changes name, one statement per kind, in a consistent order:
   * a batch then waits on another batch's rows, never deadlocks with it over them, and each
   * change finds its row without a round trip of its own.
   */
  async function lockAhead(work: Work, batch: Delivery[]): Promise<void> {
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
  async function applyEvents(
    work: Work,
    deliveryId: string,
    delivery: Delivery,
  ): Promise<{ result: IngestResult; record: DeliveryRecord }> {
    work.deliveryId = deliveryId;
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

  /**
   * Records what became of each delivery and appends the transaction's changes to the feed,
   * in one statement: the feed lock is taken last, just before the commit.
   */
  async function finish(work: Work, records: DeliveryRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One JSON parameter for any number of records: the same text every time.
    const rows = JSON.stringify(records.map((r) => [r.id, r.status, r.outcomes, r.reason, r.eventTypes, r.append === true]));
    // A part's outcomes and reason add to what the delivery's earlier parts left.
    const record = sql`
      update ${deliveries} as d
      set status = r.v ->> 1,
        outcomes = case when (r.v ->> 5)::boolean then coalesce(d.outcomes, '[]'::jsonb) || (r.v -> 2) else r.v -> 2 end,
        reason = case when (r.v ->> 5)::boolean then nullif(concat_ws('; ', d.reason, r.v ->> 3), '') else r.v ->> 3 end,
        event_types = case when (r.v ->> 5)::boolean then d.event_types else array(select jsonb_array_elements_text(r.v -> 4)) end
      from jsonb_array_elements(${rows}::jsonb) as r (v)
      where d.id = (r.v ->> 0)::uuid and d.id = any(${uuidArray(records.map((r) => r.id))})`;
    await appendToFeed(work.tx, work.feed, record);
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
    const known = knownId(work, cacheKey);
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
    const known = knownId(work, cacheKey);
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

  return { ingest, replay };
}

/**
 * A delivery with more events than a sender can be configured to batch (Polis: its
 * DSYNC_WEBHOOK_BATCH_SIZE, itself capped by its store's page limit) is not applied: it is kept
 * whole as rejected, with the reason, so nothing signed is lost, and a replay applies it once
 * WEBHOOK_MAX_EVENTS allows. One signed body cannot make the service do without bound.
 */
function oversized(delivery: Delivery, maxEvents: number): Delivery {
  const types = [...new Set(delivery.events.map((e) => e.type))].slice(0, 5).join(', ');
  return {
    ...delivery,
    events: [
      {
        type: delivery.events[0]?.type ?? '',
        changes: [],
        rejected: `${delivery.events.length} events in one delivery (${types}), more than the ${maxEvents} taken (WEBHOOK_MAX_EVENTS): kept whole; raise the setting and replay it`,
      },
    ],
  };
}

/**
 * Sends the held writes, one statement per table and column set, all at once (postgres.js
 * pipelines them on the transaction's connection), and waits for them. Throws InsertRaced when
 * an insert found its row already there, else the first error.
 */
async function settle(work: Work): Promise<void> {
  if (work.held.length === 0) return;
  const held = work.held;
  work.held = [];
  work.unsettled.clear();
  const sent: Promise<unknown>[] = [];
  let raced = false;
  for (const kind of WRITE_ORDER) {
    const inserts = held.filter((w) => w.kind === kind && w.op === 'insert').map((w) => w.values);
    const updates = held.filter((w) => w.kind === kind && w.op === 'update').map((w) => w.values);
    if (inserts.length > 0) {
      sent.push(
        insertRows(work.tx, kind, inserts).then((ids) => {
          if (ids.size < inserts.length) raced = true;
        }),
      );
    }
    if (updates.length > 0) sent.push(updateRows(work.tx, kind, updates));
  }
  const results = await Promise.allSettled(sent);
  // A race explains whatever failed after it (a reference to the row it did not insert).
  if (raced) throw new InsertRaced();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Holds a change's write (pipelined mode) until the transaction next reads or ends. */
async function hold(work: Work, k: string, held: HeldWrite): Promise<void> {
  // Two writes to one row land in order only if the first is sent before the second is held.
  if (work.unsettled.has(k)) await settle(work);
  work.held.push(held);
  work.unsettled.add(k);
}

/**
 * What a change ends besides its own object: a directory ends with what it provisioned.
 * Identity providers delete a directory's users and groups with it without sending their
 * events (Polis does), so:
 * - the delete of a DIRECTORY connection at version V records V on it and ends every member
 *   and group it provisioned at V;
 * - a member or group of a directory that ended at V is ended at V too, whenever its own
 *   event arrives, so the outcome does not depend on arrival order.
 * Each end goes through the object's own ordering guard: a newer event of it still wins.
 * Memberships are not ended here: a membership of an ended member or group no longer counts
 * when read (graphql/filters.ts), whatever order its events came in.
 */
async function endedWith(work: Work, change: DirectoryChange): Promise<DirectoryChange[]> {
  const { tx } = work;
  const ending = (entity: 'MEMBER' | 'GROUP', rows: { provider: Provider; scope: string; external_id: string }[], version: string) =>
    rows.map(
      (r) => ({ entity, op: 'delete', key: { provider: r.provider, scope: r.scope, externalId: r.external_id }, version }) as DirectoryChange,
    );

  if (change.entity === 'CONNECTION' && change.op === 'delete' && change.key.kind === 'DIRECTORY') {
    await settle(work);
    const [directory] = resultRows<{ id: string; ended: string }>(
      await tx.execute(sql`
        update ${connections} set ended_at_version = greatest(coalesce(ended_at_version, ''), ${change.version})
        where provider = ${change.key.provider} and scope = ${scopeOf(change.key)} and external_id = ${change.key.externalId}
          and kind = 'DIRECTORY'
        returning id, ended_at_version as ended`),
    );
    if (!directory) return [];
    work.directoryEnds.set(rowKey('CONNECTION', change.key), directory.ended);
    const provisioned = (table: typeof members | typeof groups) =>
      tx.execute(sql`select provider, scope, external_id from ${table} where connection_id = ${directory.id} order by external_id`);
    return [
      ...ending('MEMBER', resultRows(await provisioned(members)), change.version),
      ...ending('GROUP', resultRows(await provisioned(groups)), change.version),
    ];
  }
  const directory = directoryOf(change);
  if (directory) {
    const dk = rowKey('CONNECTION', directory);
    let version = work.directoryEnds.get(dk);
    if (version === undefined) {
      await settle(work);
      version = (await directoryEnds(tx, [directory])).get(dk) ?? null;
      work.directoryEnds.set(dk, version);
    }
    if (version) {
      const key = change.key as EntityKey;
      return ending(change.entity as 'MEMBER' | 'GROUP', [{ provider: key.provider, scope: scopeOf(key), external_id: key.externalId }], version);
    }
  }
  return [];
}

/** The directory a member or group says it came from, if any. */
function directoryOf(change: DirectoryChange): EntityKey | undefined {
  if ((change.entity === 'MEMBER' || change.entity === 'GROUP') && change.data?.directory) return change.data.directory;
  return undefined;
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

/**
 * Claims each delivery's keys and records it, for the whole batch in one statement (of the
 * same text whatever the batch: the batch travels as one JSON parameter, so the statement is
 * prepared once). Per delivery, in order, its id, or undefined when every one of its keys is
 * already claimed (a repeat: nothing is written for it). A concurrent delivery with the same
 * key makes this wait for it to commit, then conflict: duplicates are caught across processes,
 * not only within one. Keys go in first, under ids made here, so a repeat leaves no row behind
 * and needs no rollback (their foreign key is checked at the end of the statement).
 */
async function claimAll(tx: Tx, batch: Delivery[]): Promise<(string | undefined)[]> {
  const ids = batch.map(() => randomUUID());
  const rows = batch.map((d, i) => ({
    i,
    id: ids[i],
    source: d.source,
    event_types: d.events.map((e) => e.type),
    signed_at: d.signedAt.toISOString(),
    body: d.body,
    keys: d.keys,
  }));
  const claimed = resultRows<{ id: string }>(
    await tx.execute(sql`
      with d as (
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as d (i int, id uuid, source text, event_types text[], signed_at timestamptz, body jsonb, keys text[])
      ), keyed as (
        insert into ${deliveryKeys} (key, delivery_id)
        select k.key, d.id from d cross join lateral unnest(d.keys) with ordinality as k (key, j)
        order by d.i, k.j
        on conflict do nothing
        returning delivery_id
      )
      insert into ${deliveries} (id, source, event_types, status, signed_at, body, outcomes)
      -- A body of JSON null (kept as rejected) comes out of the record as SQL's NULL.
      select d.id, d.source, d.event_types, 'unchanged', d.signed_at, coalesce(d.body, 'null'::jsonb), '[]'::jsonb
      from d where d.id in (select delivery_id from keyed)
      order by d.i
      returning id`),
  );
  // A repeat only when every key is known: a delivery with one new key is new (Polis signs
  // each header apart, so the same body sent a millisecond later shares a key with the first),
  // and keeps just its new keys; any subset of a stored delivery's keys is that delivery again.
  const stored = new Set(claimed.map((r) => r.id));
  return ids.map((id) => (stored.has(id!) ? id : undefined));
}

/** Counts a repeat on the delivery it repeats. */
async function recordDuplicate(tx: Tx, delivery: Delivery): Promise<IngestResult> {
  const keys = sql.join(
    delivery.keys.map((key) => sql`${key}`),
    sql`, `,
  );
  const [original] = resultRows<{ id: string }>(
    await tx.execute(sql`
      update ${deliveries} set duplicates = duplicates + 1, last_duplicate_at = ${new Date().toISOString()}::timestamptz
      where id = (select delivery_id from ${deliveryKeys} where key in (${keys}) limit 1)
      returning id`),
  );
  if (!original) throw new Error('duplicate delivery key without a stored delivery');
  return { deliveryId: original.id, status: 'duplicate', applied: 0, rejected: 0 };
}

function visible(row: LockedRow): Visible {
  return { hasData: row.dataHash !== null, deleted: row.deleted, status: row.status, dataHash: row.dataHash };
}

function statusOf(change: DirectoryChange): string | null {
  if (change.entity === 'CONNECTION' || change.entity === 'MEMBER') return change.data?.status ?? null;
  return null;
}
