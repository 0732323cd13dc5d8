// Live fan-out: subscriptions of this process whose operation, variables and tenant scope are
// the same form one push group, and each change is loaded, executed and turned into JSON once
// per group; each member then only has its message written to its socket. Nothing per member
// waits on a promise, so a thousand subscribers of one query cost one execution and a
// thousand socket writes per change.
//
// Fan-out never holds the process: groups give way to other work every few milliseconds, and
// to webhooks being stored until they are (for a while: lib/priority.ts); and a member whose socket does not keep up is not waited for: its unsent
// messages are counted and past the buffer limit it is cut off (its transport closes it with
// 4413; the client resumes from its last cursor). A member with a cursor behind the hub reads
// its history first, through the transport's own loop (one message at a time, each waiting
// for the socket), and live changes wait for it in a bounded list.
//
// Sharing is sound because the caller keys groups by everything a payload depends on (for
// GraphQL: the operation, its variables and the viewer's tenant scope; see
// graphql/subscriptions/execute.ts). Nothing here knows what a payload is: the transport gives
// each subscription the function that makes one for a row, and how to write it out.
import { inSpan, linksTo, tracing } from '../lib/tracing.js';
import { setImmediate as giveWay } from 'node:timers/promises';
import type { Priority } from '../lib/priority.js';
import type { FeedRow } from './follower.js';
import { History } from './history.js';
import type { LiveBatch, LiveHub } from './hub.js';
import { waitingOutOutages } from './outages.js';
import { matches, type LiveKind, type LiveSpec } from './spec.js';

/** A change ready to push: its seq and its payload as JSON. */
export interface Frame {
  seq: number;
  payload: string;
}

/** Where one subscription's messages go: its socket, and the operation's id on it. */
export interface PushSink {
  /** Writes `next` messages for frames[from..], in order, in one go. */
  push(frames: readonly Frame[], from: number): void;
  /** Messages written that the socket has not yet handed to the operating system. */
  readonly unsent: number;
}

/** What the transport gives each subscription. */
export interface PushTarget<R> {
  sink: PushSink;
  /** A payload as the transport sends it (errors formatted), as JSON. */
  render(result: R): string;
  /** The member fell too far behind: cut it off. */
  overflow(): void;
}

/**
 * A subscription's payload for a feed row, read through the batch's shared state `S`; null
 * when there is nothing to send (its object is gone, or not visible to the subscriber).
 */
export type Payload<S, R> = (row: FeedRow, shared: S) => Promise<R | null>;

/** Fan-out work between two chances for the rest of the process to run. */
const SLICE_MS = 4;
/**
 * Longest fan-out waits, at the end of a slice, for urgent work to finish: under a steady
 * stream of webhooks it still gets a slice in every SLICE_MS + this.
 */
const URGENT_WAIT_MS = 20;

export class Fanout<S, R> {
  readonly hub: LiveHub<S>;
  readonly #urgent: Priority | undefined;
  readonly #onPushed: ((messages: number) => void) | undefined;
  readonly #groups = new Map<string, PushGroup<S, R>>();
  readonly #byKind: Record<LiveKind, number> = { TENANT: 0, CONNECTION: 0, MEMBER: 0, GROUP: 0 };
  #sliceStart = performance.now();

  /**
   * `urgent`: work fan-out gives way to (webhooks being stored). `onPushed`: told how many
   * live messages were written to subscribers' sockets (for the metrics).
   */
  /** Which instance pushes, on its spans (several run in one process in the tests). */
  readonly instance: string;

  constructor(hub: LiveHub<S>, options: { urgent?: Priority; onPushed?: (messages: number) => void; instance?: string } = {}) {
    this.hub = hub;
    this.instance = options.instance ?? '';
    this.#urgent = options.urgent;
    this.#onPushed = options.onPushed;
  }

  pushed(messages: number): void {
    if (messages > 0) this.#onPushed?.(messages);
  }

  /**
   * Adds a subscription to the group of `key` (made on first use: its payloads are made with
   * the first member's `payload`, for all) and returns the iterator its transport drives:
   * history (if any) as results, then nothing until it ends. Synchronous up to the join, so the
   * hub's position is read as the member joins.
   */
  join(key: string, spec: LiveSpec, payload: Payload<S, R>, target: PushTarget<R>): AsyncIterableIterator<R> {
    let group = this.#groups.get(key);
    if (!group) {
      group = new PushGroup(this, spec, payload, target.render, () => this.#groups.delete(key));
      this.#groups.set(key, group);
    }
    this.#byKind[spec.kind]++;
    return group.add(spec, payload, target, () => this.#byKind[spec.kind]--);
  }

  /** Open subscriptions here, by what they follow (for the metrics). */
  subscribers(): Record<LiveKind, number> {
    return { ...this.#byKind };
  }

  /**
   * Once this slice of fan-out work is used up: lets the I/O that came in meanwhile be handled
   * (the next turn of the event loop), then lets urgent work finish (for a while).
   */
  async giveWayIfDue(): Promise<void> {
    if (performance.now() - this.#sliceStart < SLICE_MS) return;
    await giveWay();
    await this.#urgent?.clear(URGENT_WAIT_MS);
    this.#sliceStart = performance.now();
  }
}

class PushGroup<S, R> {
  readonly #fanout: Fanout<S, R>;
  readonly #spec: LiveSpec;
  readonly #payload: Payload<S, R>;
  readonly #render: (result: R) => string;
  readonly #members = new Set<Member<S, R>>();
  readonly #leaveHub: () => void;
  readonly #onEmpty: () => void;

  constructor(fanout: Fanout<S, R>, spec: LiveSpec, payload: Payload<S, R>, render: (result: R) => string, onEmpty: () => void) {
    this.#fanout = fanout;
    this.#spec = spec;
    this.#payload = payload;
    this.#render = render;
    this.#onEmpty = onEmpty;
    this.#leaveHub = fanout.hub.join((batch) => this.#deliver(batch));
  }

  add(spec: LiveSpec, payload: Payload<S, R>, target: PushTarget<R>, onLeave: () => void): Member<S, R> {
    const member = new Member(this.#fanout, spec, payload, target, () => {
      if (!this.#members.delete(member)) return;
      onLeave();
      if (this.#members.size === 0) {
        this.#leaveHub();
        this.#onEmpty();
      }
    });
    this.#members.add(member);
    return member;
  }

  get #wanted(): boolean {
    return this.#members.size > 0;
  }

  async #deliver(batch: LiveBatch<S>): Promise<void> {
    const rows = batch.rows.filter((row) => matches(this.#spec, row));
    if (rows.length === 0) return;
    // A trace of its own per push group and batch, linked to the webhooks whose changes it pushes.
    await inSpan(
      'push',
      {
        root: true,
        links: linksTo(rows.map((r) => r.traceParent)),
        attributes: { 'dsync.kind': this.#spec.kind, 'dsync.changes': rows.length, 'dsync.subscribers': this.#members.size, 'dsync.instance': this.#fanout.instance || tracing.instance },
      },
      () => this.#push(batch, rows),
    );
  }

  async #push(batch: LiveBatch<S>, rows: readonly FeedRow[]): Promise<void> {
    await this.#fanout.giveWayIfDue();
    const frames: Frame[] = [];
    for (const row of rows) {
      if (!this.#wanted) return;
      const result = await waitingOutOutages(() => this.#payload(row, batch.shared), () => this.#wanted);
      if (result === null || result === undefined) continue;
      frames.push({ seq: row.seq, payload: this.#render(result) });
    }
    if (frames.length === 0) return;
    let n = 0;
    let pushed = 0;
    for (const member of this.#members) {
      pushed += member.offer(frames);
      if ((++n & 31) === 0) {
        this.#fanout.pushed(pushed);
        pushed = 0;
        await this.#fanout.giveWayIfDue();
      }
    }
    this.#fanout.pushed(pushed);
  }
}

class Member<S, R> implements AsyncIterableIterator<R> {
  readonly #fanout: Fanout<S, R>;
  readonly #payload: Payload<S, R>;
  readonly #target: PushTarget<R>;
  readonly #limit: number;
  readonly #leave: () => void;
  /** The last seq pushed or passed over. */
  #position: number;
  #history: History<S> | undefined;
  /** Live frames held while history is read. */
  #held: Frame[] | undefined;
  #closed = false;
  #ended: ((result: IteratorResult<R, undefined>) => void) | undefined;

  constructor(fanout: Fanout<S, R>, spec: LiveSpec, payload: Payload<S, R>, target: PushTarget<R>, leave: () => void) {
    const { hub } = fanout;
    this.#fanout = fanout;
    this.#payload = payload;
    this.#target = target;
    this.#limit = hub.bufferLimit;
    this.#leave = leave;
    // Joined at the hub's position: history is read up to it, live rows come after it. A
    // cursor ahead of it (from an instance further on) passes over rows up to the cursor.
    const { after } = spec;
    const joined = hub.position;
    if (after !== undefined && after < joined) {
      this.#history = new History(hub, spec, after, joined);
      this.#held = [];
    }
    this.#position = Math.max(after ?? joined, joined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * Takes the frames of a batch it has not had yet: pushes them, or holds them during history.
   * Returns how many it pushed.
   */
  offer(frames: readonly Frame[]): number {
    if (this.#closed) return 0;
    let from = 0;
    while (from < frames.length && frames[from]!.seq <= this.#position) from++;
    if (from === frames.length) return 0;
    this.#position = frames[frames.length - 1]!.seq;
    if (this.#held) {
      for (let i = from; i < frames.length; i++) this.#held.push(frames[i]!);
      if (this.#held.length > this.#limit) this.#overflow();
      return 0;
    }
    this.#target.sink.push(frames, from);
    if (this.#target.sink.unsent > this.#limit) this.#overflow();
    return frames.length - from;
  }

  async next(): Promise<IteratorResult<R, undefined>> {
    if (this.#history) {
      const result = await this.#nextOfHistory();
      if (result) return { value: result, done: false };
      this.#history = undefined;
      const held = this.#held ?? [];
      this.#held = undefined;
      if (held.length > 0 && !this.#closed) {
        this.#target.sink.push(held, 0);
        this.#fanout.pushed(held.length);
        if (this.#target.sink.unsent > this.#limit) this.#overflow();
      }
    }
    if (this.#closed) return { value: undefined, done: true };
    // Live changes go straight to the sink: the transport's loop only waits for the end.
    return new Promise((resolve) => (this.#ended = resolve));
  }

  async return(): Promise<IteratorResult<R, undefined>> {
    this.#close();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<R, undefined>> {
    this.#close();
    throw error;
  }

  async #nextOfHistory(): Promise<R | undefined> {
    const history = this.#history!;
    const wanted = () => !this.#closed;
    try {
      while (!this.#closed) {
        const item = await waitingOutOutages(() => history.next(), wanted);
        if (!item) return undefined;
        const result = await waitingOutOutages(() => this.#payload(item.row, item.shared), wanted);
        if (result === null || result === undefined) continue;
        return result;
      }
      return undefined;
    } catch (error) {
      // A for-await that sees the error never calls return(): leave the group here.
      this.#close();
      throw error;
    }
  }

  #overflow(): void {
    this.#close();
    this.#target.overflow();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = undefined;
    this.#leave();
    const ended = this.#ended;
    this.#ended = undefined;
    ended?.({ value: undefined, done: true });
  }
}
