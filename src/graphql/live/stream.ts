// One subscription's stream: optionally the feed's history after a cursor (read from the
// changes table), then the live batches the hub hands over, with nothing missed or repeated at
// the seam. The seam is a position: the hub says which seq it had handed on when this stream
// joined; history is read up to it and live rows are taken after it, and any row at or below
// the last one yielded is skipped (a cursor from an instance that is ahead of this one).
import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, eq, gt, inArray, lte } from 'drizzle-orm';
import type { Viewer } from '../../auth/viewer.js';
import { isUnavailable } from '../../db/errors.js';
import { changes } from '../../db/schema.js';
import type { FeedRow } from '../../directory/feed-follower.js';
import type { EntityKind } from '../../directory/types.js';
import { BoundedQueue } from '../../lib/bounded-queue.js';
import type { Loaders } from '../loaders.js';
import { cursorExpired } from '../errors.js';
import { canSee } from '../scope.js';
import { readFeedHorizon } from '../../directory/feed-horizon.js';
import type { LiveEventOf, LiveKind } from './events.js';
import type { LiveHub } from './hub.js';

export interface StreamSpec<K extends LiveKind> {
  viewer: Viewer;
  kind: K;
  /** Confine to one tenant (already checked visible), or null for all the viewer can see. */
  tenantId: string | null;
  /** Replay from after this seq first. */
  after: number | undefined;
  /** The client fell too far behind; the stream has already ended. */
  onOverflow: () => void;
}

interface Replay {
  /** The hub's position when the stream joined: live rows start after it. */
  until: number;
  rows: FeedRow[];
  loaders: Loaders | undefined;
  exhausted: boolean;
}

interface Pending {
  row: FeedRow;
  loaders: Loaders;
  shared: Map<string, unknown>;
}

const REPLAY_PAGE = 200;

/** Feed entities a subscription to `kind` receives: members and groups also hear of memberships. */
const entitiesOf = (kind: LiveKind): EntityKind[] =>
  kind === 'MEMBER' || kind === 'GROUP' ? [kind, 'MEMBERSHIP'] : [kind];

export class LiveStream<K extends LiveKind> implements AsyncIterableIterator<LiveEventOf[K]> {
  readonly #hub: LiveHub;
  readonly #spec: StreamSpec<K>;
  readonly #entities: EntityKind[];
  readonly #queue: BoundedQueue<Pending>;
  readonly #leave: () => void;
  /** The last seq consumed (yielded or filtered out). */
  #position: number;
  /** While replaying: history up to `until`, a page at a time. */
  #replay: Replay | undefined;
  #closed = false;

  constructor(hub: LiveHub, spec: StreamSpec<K>) {
    this.#hub = hub;
    this.#spec = spec;
    this.#entities = entitiesOf(spec.kind);
    this.#queue = new BoundedQueue(hub.bufferLimit);
    // Joining is synchronous, before any history is read: no batch can fall between the two.
    const joined = hub.join((batch) => {
      for (const row of batch.rows) {
        if (!this.#matches(row)) continue;
        if (!this.#queue.push({ row, loaders: batch.loaders, shared: batch.shared })) {
          if (!this.#closed) this.#overflow();
          return;
        }
      }
    }, spec.kind);
    this.#leave = joined.leave;
    this.#position = spec.after ?? joined.position;
    if (spec.after !== undefined && spec.after < joined.position) {
      this.#replay = { until: joined.position, rows: [], loaders: undefined, exhausted: false };
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<LiveEventOf[K], undefined>> {
    while (!this.#closed) {
      let pending: Pending;
      if (this.#replay) {
        const replay = this.#replay;
        if (replay.rows.length === 0) {
          if (replay.exhausted) this.#replay = undefined;
          else {
            try {
              await this.#retrying(() => this.#readHistory(replay));
            } catch (error) {
              // A for-await that sees the error never calls return(): leave the hub here.
              this.#close();
              throw error;
            }
          }
          continue;
        }
        // History is this stream's alone: nothing to share.
        pending = { row: replay.rows.shift()!, loaders: replay.loaders!, shared: new Map() };
      } else {
        const taken = await this.#queue.next();
        if (taken.done) break;
        pending = taken.value;
      }
      if (pending.row.seq <= this.#position) continue;
      this.#position = pending.row.seq;
      const event = await this.#retrying(() => this.#toEvent(pending));
      if (event) return { value: event, done: false };
    }
    return { value: undefined, done: true };
  }

  async return(): Promise<IteratorResult<LiveEventOf[K], undefined>> {
    this.#close();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<LiveEventOf[K], undefined>> {
    this.#close();
    throw error;
  }

  #close(): void {
    this.#closed = true;
    this.#leave();
    this.#queue.end();
  }

  #overflow(): void {
    this.#close();
    this.#spec.onOverflow();
  }

  #matches(row: FeedRow): boolean {
    if (!this.#entities.includes(row.entity)) return false;
    const { tenantId, viewer } = this.#spec;
    return tenantId === null ? canSee(viewer, row.tenantId) : row.tenantId === tenantId;
  }

  async #readHistory(replay: Replay): Promise<void> {
    const { tenantId } = this.#spec;
    const from = this.#position;
    const rows = await this.#hub.db
      .select()
      .from(changes)
      .where(
        and(
          gt(changes.seq, this.#position),
          lte(changes.seq, replay.until),
          inArray(changes.entity, this.#entities),
          tenantId === null ? undefined : eq(changes.tenantId, tenantId),
        ),
      )
      .orderBy(asc(changes.seq))
      .limit(REPLAY_PAGE);
    // Retention may have pruned past this stream's position while it replayed: then rows
    // after it may be gone, and the client must reload rather than see a gap.
    if (from < (await readFeedHorizon(this.#hub.db))) throw cursorExpired('after');
    // The query confines history as #matches confines live rows: same kinds, same tenant.
    replay.loaders = await this.#hub.loadersFor(rows);
    replay.rows = rows;
    replay.exhausted = rows.length < REPLAY_PAGE;
  }

  /** The event for a row, or null when its object is gone or not visible to this viewer. */
  async #toEvent({ row, loaders, shared }: Pending): Promise<LiveEventOf[K] | null> {
    const { kind, viewer } = this.#spec;
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
        if (subject && canSee(viewer, subject.id)) event = { change: row, subject, membership, loaders, shared };
        break;
      }
      case 'CONNECTION': {
        const subject = await loaders.connection.load(subjectId);
        if (subject && canSee(viewer, subject.tenantId)) event = { change: row, subject, membership, loaders, shared };
        break;
      }
      case 'MEMBER': {
        const subject = await loaders.member.load(subjectId);
        if (subject && canSee(viewer, subject.tenantId)) event = { change: row, subject, membership, loaders, shared };
        break;
      }
      case 'GROUP': {
        const subject = await loaders.group.load(subjectId);
        if (subject && canSee(viewer, subject.tenantId)) event = { change: row, subject, membership, loaders, shared };
        break;
      }
    }
    return event as LiveEventOf[K] | null;
  }

  /**
   * Waits out a database outage (the stream resumes where it was). A stream closed meanwhile
   * just ends (undefined; next() sees it is closed): the client has gone, nothing failed.
   */
  async #retrying<T>(work: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        if (this.#closed) return undefined;
        await sleep(Math.min(5000, 100 * 2 ** attempt));
        if (this.#closed) return undefined;
      }
    }
  }
}
