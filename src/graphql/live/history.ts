// A subscription's history: the feed's rows after its cursor up to where the live rows start,
// read from the changes table a page at a time, confined as live rows are (same kinds, same
// tenant), each page's objects loaded together.
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq, gt, inArray, lte } from 'drizzle-orm';
import { isUnavailable } from '../../db/errors.js';
import { changes } from '../../db/schema.js';
import type { FeedRow } from '../../directory/feed-follower.js';
import { readFeedHorizon } from '../../directory/feed-horizon.js';
import { cursorExpired } from '../errors.js';
import type { Loaders } from '../loaders.js';
import { entitiesOf, type LiveSpec } from './subject.js';
import type { LiveHub } from './hub.js';

const PAGE = 200;

export class History {
  readonly #hub: LiveHub;
  readonly #spec: LiveSpec;
  /** The last seq read. */
  #position: number;
  readonly #until: number;
  #rows: FeedRow[] = [];
  #loaders: Loaders | undefined;
  #exhausted = false;

  /** Rows after `from`, up to and including `until`. */
  constructor(hub: LiveHub, spec: LiveSpec, from: number, until: number) {
    this.#hub = hub;
    this.#spec = spec;
    this.#position = from;
    this.#until = until;
  }

  /** The next row with its page's loaders; undefined once history is read to its end. */
  async next(): Promise<{ row: FeedRow; loaders: Loaders } | undefined> {
    while (this.#rows.length === 0) {
      if (this.#exhausted) return undefined;
      await this.#readPage();
    }
    return { row: this.#rows.shift()!, loaders: this.#loaders! };
  }

  async #readPage(): Promise<void> {
    const { tenantId, kind } = this.#spec;
    const from = this.#position;
    const rows = await this.#hub.db
      .select()
      .from(changes)
      .where(
        and(
          gt(changes.seq, from),
          lte(changes.seq, this.#until),
          inArray(changes.entity, entitiesOf(kind)),
          tenantId === null ? undefined : eq(changes.tenantId, tenantId),
        ),
      )
      .orderBy(asc(changes.seq))
      .limit(PAGE);
    // Retention may have pruned past this position while the subscriber replayed: then rows
    // after it may be gone, and the client must reload rather than see a gap.
    if (from < (await readFeedHorizon(this.#hub.db))) throw cursorExpired('after');
    this.#loaders = await this.#hub.loadersFor(rows);
    this.#rows = rows;
    this.#exhausted = rows.length < PAGE;
    if (rows.length > 0) this.#position = rows[rows.length - 1]!.seq;
  }
}

/**
 * Runs `work`, waiting out a database outage (retrying with backoff) for as long as `wanted`
 * says someone still wants the result; undefined once nobody does.
 */
export async function waitingOutOutages<T>(work: () => Promise<T>, wanted: () => boolean): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      if (!wanted()) return undefined;
      await sleep(Math.min(5000, 100 * 2 ** attempt));
      if (!wanted()) return undefined;
    }
  }
}
