// How much of the connection pool is at work, for the metrics. Neither postgres.js nor PGlite
// reports it, so the client is wrapped: every statement and transaction counts from the moment
// it is awaited until it settles. What is counted beyond the pool's size is waiting for a
// connection (postgres.js queues it; PGlite runs one statement at a time).
//
// postgres.js builds a statement lazily and sends it when first awaited, after modifiers such
// as `.values()` have been applied: the wrapper hooks `then` and hands modifiers back wrapped,
// so counting never sends a statement early.

export interface PoolUse {
  /** Connections the pool may open (1 for PGlite). */
  size: number;
  /** Statements and transactions holding a connection now. */
  inUse: number;
  /** Statements and transactions waiting for one. */
  waiting: number;
}

export interface PoolCounter {
  use(): PoolUse;
  /** When (performance.now()) a statement last failed for want of the database; -Infinity: never. */
  lastUnavailableAt(): number;
  /** Wraps a promise-returning call: counted until it settles. */
  around<T>(work: () => PromiseLike<T>): Promise<T>;
  /** Wraps a lazy thenable (a postgres.js query) so that awaiting it is counted. */
  lazy<T extends object>(query: T): T;
}

export function createPoolCounter(size: number, unavailable: (error: unknown) => boolean = () => false): PoolCounter {
  let active = 0;
  let lastUnavailable = Number.NEGATIVE_INFINITY;
  const done = () => {
    active--;
  };
  const failed = (error: unknown) => {
    if (unavailable(error)) lastUnavailable = performance.now();
  };
  const counter: PoolCounter = {
    use: () => ({ size, inUse: Math.min(active, size), waiting: Math.max(0, active - size) }),
    lastUnavailableAt: () => lastUnavailable,
    around: async (work) => {
      active++;
      try {
        return await work();
      } catch (error) {
        failed(error);
        throw error;
      } finally {
        done();
      }
    },
    lazy: (query) =>
      new Proxy(query, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (property === 'then') {
            const then = value as PromiseLike<unknown>['then'];
            return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => {
              active++;
              return then.call(
                target,
                (v) => {
                  done();
                  return onFulfilled ? onFulfilled(v) : v;
                },
                (e: unknown) => {
                  done();
                  failed(e);
                  if (onRejected) return onRejected(e);
                  throw e;
                },
              );
            };
          }
          if (typeof value !== 'function') return value;
          // Modifiers (`values()`, `raw()`, ...) return the query itself: keep it wrapped.
          return (...args: unknown[]) => {
            const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
            return result === target ? counter.lazy(target) : result;
          };
        },
      }),
  };
  return counter;
}
