// Background work that asks to go after urgent work waits for it, but never for longer than it
// said: fan-out must not stop for good under a steady stream of webhooks.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Priority } from '../../src/lib/priority.js';

afterEach(() => {
  vi.useRealTimers();
});

const settled = async (promise: Promise<void>) => {
  let done = false;
  void promise.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
};

describe('Priority', () => {
  it('lets background work go at once when nothing urgent runs', async () => {
    const priority = new Priority();
    expect(await settled(priority.clear(1000))).toBe(true);
  });

  it('holds it until the last urgent work ends', async () => {
    vi.useFakeTimers();
    const priority = new Priority();
    priority.begin();
    priority.begin();
    const waiting = priority.clear(1000);
    expect(await settled(waiting)).toBe(false);
    priority.end();
    expect(priority.busy).toBe(true);
    expect(await settled(waiting)).toBe(false);
    priority.end();
    expect(priority.busy).toBe(false);
    expect(await settled(waiting)).toBe(true);
  });

  it('holds it no longer than it asked, however long the urgent work runs', async () => {
    vi.useFakeTimers();
    const priority = new Priority();
    priority.begin();
    const waiting = priority.clear(20);
    await vi.advanceTimersByTimeAsync(19);
    expect(await settled(waiting)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(waiting)).toBe(true);
    priority.end();
  });
});
