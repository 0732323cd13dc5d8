// Work that must not wait behind background work in the same process: while any is under way
// (`begin()`… `end()`), background work that asks `clear(maxWaitMs)` waits for it to finish, for
// at most that long each time it asks, so the urgent work has the process (and the CPU it gives
// up to the database meanwhile) to itself. Here: webhooks being stored are urgent, and live
// fan-out gives way to them (server.ts), so a machine saturated by pushes still takes webhooks
// in about the time it takes them with nobody subscribed.
export class Priority {
  #running = 0;
  #waiting: (() => void)[] = [];

  begin(): void {
    this.#running++;
  }

  end(): void {
    if (--this.#running > 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }

  get busy(): boolean {
    return this.#running > 0;
  }

  /** Resolves once no urgent work runs, or after `maxWaitMs`. */
  clear(maxWaitMs: number): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      this.#waiting.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
