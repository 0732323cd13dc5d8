// A queue between a producer that must never wait (the feed, pushing to every subscriber) and
// one consumer that may be slow (a client's socket). The producer learns at once when the
// consumer has fallen too far behind, instead of the queue growing without bound.
//
// Hand-written rather than an async-iterator library: the one property needed here, that
// ending the queue releases a consumer waiting on an empty queue at once, is what async
// generators lack (their return() waits for the pending next()).

export class BoundedQueue<T> {
  readonly #items: T[] = [];
  #head = 0;
  #waiting: ((result: IteratorResult<T, undefined>) => void) | undefined;
  #ended = false;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds an item; false (and nothing added) when the queue is full or ended. */
  push(item: T): boolean {
    if (this.#ended) return false;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: item, done: false });
      return true;
    }
    if (this.size >= this.limit) return false;
    this.#items.push(item);
    return true;
  }

  /** The next item, waiting for one; done once the queue has ended (queued items are dropped). */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.size > 0) {
      const item = this.#items[this.#head] as T;
      this.#head++;
      // Compact now and then rather than shift() on every take.
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items.splice(0, this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#waiting) throw new Error('BoundedQueue has one consumer');
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Ends the queue: a waiting consumer gets done now; later pushes are refused. */
  end(): void {
    this.#ended = true;
    this.#items.length = 0;
    this.#head = 0;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }
}
