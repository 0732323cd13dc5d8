// The queue between the feed and one subscriber: bounded, order-preserving, and ending it
// releases a consumer that is waiting (what a closed socket relies on).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../../src/lib/bounded-queue.js';

describe('BoundedQueue', () => {
  it('keeps order and refuses pushes past its limit, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), fc.array(fc.boolean(), { maxLength: 200 }), async (limit, ops) => {
        const queue = new BoundedQueue<number>(limit);
        const model: number[] = [];
        let next = 0;
        for (const isPush of ops) {
          if (isPush) {
            const accepted = queue.push(next);
            expect(accepted).toBe(model.length < limit);
            if (accepted) model.push(next);
            next++;
          } else if (model.length > 0) {
            expect(await queue.next()).toEqual({ value: model.shift(), done: false });
          }
          expect(queue.size).toBe(model.length);
        }
      }),
    );
  });

  it('hands a push straight to a waiting consumer', async () => {
    const queue = new BoundedQueue<string>(1);
    const taken = queue.next();
    expect(queue.push('a')).toBe(true);
    expect(await taken).toEqual({ value: 'a', done: false });
    expect(queue.size).toBe(0);
  });

  it('ending it releases a waiting consumer and refuses later pushes', async () => {
    const queue = new BoundedQueue<string>(5);
    const waiting = queue.next();
    queue.end();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(queue.push('late')).toBe(false);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('compacts as it goes: a long run through a small queue keeps its order', async () => {
    const queue = new BoundedQueue<number>(3);
    for (let i = 0; i < 5000; i++) {
      expect(queue.push(i)).toBe(true);
      expect((await queue.next()).value).toBe(i);
    }
  });
});
