// A subscription's history: the feed's rows after its cursor up to where the live rows start,
// read from the changes table a page at a time, confined as live rows are (same kinds, same
// tenant), each page's objects loaded together.
import { viewerScope } from '../auth/viewer.js';
import { oneOf } from '../db/uuid-array.js';
import { and, asc, eq, gt, inArray, lte } from 'drizzle-orm';
import { changes } from '../db/schema.js';
import { readFeedHorizon } from '../directory/feed-horizon.js';
import type { FeedRow } from './follower.js';
import type { LiveHub } from './hub.js';
import { entitiesOf, type LiveSpec } from './spec.js';

/**
 * Retention pruned the feed past a subscriber's cursor while it read its history: rows after
 * the cursor may be gone, so the client must reload rather than see a gap. The transport
 * answers it as its protocol says (GraphQL: CURSOR_EXPIRED).
 */
export class HistoryPruned extends Error {
  constructor() {
    super('the change feed no longer reaches back to this cursor');
  }
}

const PAGE = 200;

export class History<S> {
  readonly #hub: LiveHub<S>;
  readonly #spec: LiveSpec;
  /** The last seq read. */
  #position: number;
  readonly #until: number;
  #rows: FeedRow[] = [];
  #shared: S | undefined;
  #exhausted = false;

  /** Rows after `from`, up to and including `until`. */
  constructor(hub: LiveHub<S>, spec: LiveSpec, from: number, until: number) {
    this.#hub = hub;
    this.#spec = spec;
    this.#position = from;
    this.#until = until;
  }

  /** The next row with what its page is read through; undefined once history is read to its end. */
  async next(): Promise<{ row: FeedRow; shared: S } | undefined> {
    while (this.#rows.length === 0) {
      if (this.#exhausted) return undefined;
      await this.#readPage();
    }
    return { row: this.#rows.shift()!, shared: this.#shared! };
  }

  async #readPage(): Promise<void> {
    const { tenantId, kind } = this.#spec;
    const scope = viewerScope(this.#spec.viewer);
    const from = this.#position;
    const rows = await this.#hub.db
      .select()
      .from(changes)
      .where(
        and(
          gt(changes.seq, from),
          lte(changes.seq, this.#until),
          inArray(changes.entity, entitiesOf(kind)),
          tenantId !== null ? eq(changes.tenantId, tenantId) : scope === null ? undefined : oneOf(changes.tenantId, scope),
        ),
      )
      .orderBy(asc(changes.seq))
      .limit(PAGE);
    // Retention may have pruned past this position while the subscriber replayed: then rows
    // after it may be gone, and the client must reload rather than see a gap.
    if (from < (await readFeedHorizon(this.#hub.db))) throw new HistoryPruned();
    this.#shared = await this.#hub.prepare(rows);
    this.#rows = rows;
    this.#exhausted = rows.length < PAGE;
    if (rows.length > 0) this.#position = rows[rows.length - 1]!.seq;
  }
}
