import { describe, expect, it } from 'vitest';
import { createBatcher } from '../../src/directory/batcher.js';

/** A batcher whose runs are recorded and finish only when told to. */
function recorded(maxBatch: number, maxInFlight: number) {
  const runs: { items: number[]; finish: (error?: Error) => void }[] = [];
  const batcher = createBatcher<number, string>({
    maxBatch,
    maxInFlight,
    run: (items) =>
      new Promise((resolve, reject) => {
        runs.push({ items, finish: (error) => (error ? reject(error) : resolve(items.map((i) => `done ${i}`))) });
      }),
  });
  return { batcher, runs };
}

const turn = () => new Promise((r) => setImmediate(r));
/** Lets the event loop turn until `ready` (a batch is taken in the check phase). */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ready(); i++) await turn();
}

describe('batcher', () => {
  it('starts a lone item at once, and what arrives meanwhile goes together next, in order', async () => {
    const { batcher, runs } = recorded(10, 1);
    const first = batcher.submit(1);
    await turn();
    expect(runs.map((r) => r.items)).toEqual([[1]]);
    const later = [2, 3, 4].map((i) => batcher.submit(i));
    await turn();
    expect(runs).toHaveLength(1);
    runs[0]!.finish();
    expect(await first).toBe('done 1');
    await until(() => runs.length === 2);
    expect(runs.map((r) => r.items)).toEqual([[1], [2, 3, 4]]);
    runs[1]!.finish();
    expect(await Promise.all(later)).toEqual(['done 2', 'done 3', 'done 4']);
  });

  it('bounds a batch by maxBatch and the batches at work by maxInFlight', async () => {
    const { batcher, runs } = recorded(2, 2);
    const all = [1, 2, 3, 4, 5].map((i) => batcher.submit(i));
    await turn();
    expect(runs.map((r) => r.items)).toEqual([[1, 2], [3, 4]]);
    runs[0]!.finish();
    await until(() => runs.length === 3);
    expect(runs.map((r) => r.items)).toEqual([[1, 2], [3, 4], [5]]);
    runs[1]!.finish();
    runs[2]!.finish();
    expect(await Promise.all(all)).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5']);
  });

  it("a batch's failure reaches each of its items, and the next batch still runs", async () => {
    const { batcher, runs } = recorded(5, 1);
    const failing = [1, 2].map((i) => batcher.submit(i));
    await turn();
    const next = batcher.submit(3);
    runs[0]!.finish(new Error('boom'));
    for (const p of failing) await expect(p).rejects.toThrow('boom');
    await until(() => runs.length === 2);
    runs[1]!.finish();
    expect(await next).toBe('done 3');
  });

  it('stops a batch at maxWeight, but always takes one item however heavy', async () => {
    const runs: number[][] = [];
    const batcher = createBatcher<number, number>({
      maxBatch: 10,
      maxInFlight: 1,
      weigh: (n) => n,
      maxWeight: 10,
      run: async (items) => {
        runs.push(items);
        return items;
      },
    });
    await Promise.all([50, 4, 5, 3, 2].map((n) => batcher.submit(n)));
    expect(runs).toEqual([[50], [4, 5], [3, 2]]);
  });
});
