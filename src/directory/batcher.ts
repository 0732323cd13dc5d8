// Group commit: items that arrive while a batch is being worked on wait for the next one and go
// together. A batch starts as soon as a slot is free, with whatever is waiting (at most
// `maxBatch`): a lone item is never held back waiting for company, and under load the batches
// grow by themselves, as many items as arrived during the last one.
//
// A batch is taken in the event loop's check phase (setImmediate), after the I/O that has
// already arrived has been handled: an embedded database (PGlite) runs a whole transaction in
// microtasks without yielding to I/O, so taking the queue straight away would always find just
// the one item that woke it, while a dozen requests sat unread in the socket buffers.
export interface BatcherOptions<T, R> {
  /** Works on one batch; resolves with one result per item, in order. */
  run(items: T[]): Promise<R[]>;
  /** Most items in one batch. */
  maxBatch: number;
  /** Weight of an item (bytes, say) and most weight in one batch; a batch takes at least one item. */
  weigh?: (item: T) => number;
  maxWeight?: number;
  /** Most batches worked on at once. */
  maxInFlight: number;
}

export interface Batcher<T, R> {
  /** Settles once the batch holding `item` is done: with its result, or the batch's error. */
  submit(item: T): Promise<R>;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export function createBatcher<T, R>(options: BatcherOptions<T, R>): Batcher<T, R> {
  const queue: Waiting<T, R>[] = [];
  let inFlight = 0;
  let scheduled = false;

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      pump();
    });
  };

  const pump = () => {
    while (inFlight < options.maxInFlight && queue.length > 0) {
      let take = 0;
      let weight = 0;
      while (take < queue.length && take < options.maxBatch) {
        weight += options.weigh?.(queue[take]!.item) ?? 0;
        if (take > 0 && weight > (options.maxWeight ?? Infinity)) break;
        take++;
      }
      const batch = queue.splice(0, take);
      inFlight++;
      void options
        .run(batch.map((w) => w.item))
        .then(
          (results) => batch.forEach((w, i) => w.resolve(results[i] as R)),
          (error: unknown) => batch.forEach((w) => w.reject(error)),
        )
        .finally(() => {
          inFlight--;
          schedule();
        });
    }
  };

  return {
    submit: (item) =>
      new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      }),
  };
}
