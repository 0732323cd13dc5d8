// One ingest transaction's state, and the writes it holds: in pipelined mode a change's write
// is held and sent with the others (one statement per table and column set) when the
// transaction next reads or ends, instead of one round trip per change.
import type { FeedEntry } from './feed.js';
import { insertRows, updateRows, type LockedRow, type RowValues, type Tx } from './rows.js';
import type { EntityKind } from './types.js';

/** State of one transaction (of one delivery or of a batch). */
export interface Work {
  tx: Tx;
  /** The delivery being applied: what its feed entries name. */
  deliveryId: string;
  /** Its webhook's traceparent, which its feed entries carry (tracing on). */
  trace: string | undefined;
  feed: FeedEntry[];
  /** Parent ids the store knows from committed transactions (see apply.ts, knownId). */
  parents: ReadonlyMap<string, string>;
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
export class InsertRaced extends Error {}

/** A change's write, held until the transaction next reads or ends. */
export interface HeldWrite {
  kind: EntityKind;
  op: 'insert' | 'update';
  values: RowValues;
}

/** Tables in the order their rows are written: a table before those that refer to it. */
const WRITE_ORDER: EntityKind[] = ['TENANT', 'CONNECTION', 'MEMBER', 'GROUP', 'MEMBERSHIP'];

/** A transaction's fresh state. */
export const newWork = (tx: Tx, pipelined: boolean, parents: ReadonlyMap<string, string>, learned: Map<string, string>, feed: FeedEntry[]): Work => ({
  tx,
  deliveryId: '',
  trace: undefined,
  feed,
  parents,
  learned,
  locked: new Map(),
  pipelined,
  held: [],
  unsettled: new Set(),
  directoryEnds: new Map(),
});

/**
 * Sends the held writes, one statement per table and column set, all at once (postgres.js
 * pipelines them on the transaction's connection), and waits for them. Throws InsertRaced when
 * an insert found its row already there, else the first error.
 */
export async function settle(work: Work): Promise<void> {
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
export async function hold(work: Work, k: string, held: HeldWrite): Promise<void> {
  // Two writes to one row land in order only if the first is sent before the second is held.
  if (work.unsettled.has(k)) await settle(work);
  work.held.push(held);
  work.unsettled.add(k);
}
