// The API-key cache may only ever answer with a key no revocation notice has since named.
import { describe, expect, it } from 'vitest';
import { createKeyCache, type CachedKey } from '../../src/auth/key-cache.js';

const key = (id: string): CachedKey => ({ id, name: id, tenantId: null, lastUsedAt: null });

describe('API key cache', () => {
  it('keeps nothing until revocation notices are being received, and forgets all when they stop', () => {
    const cache = createKeyCache();
    cache.set('h1', key('k1'), cache.generation());
    expect(cache.get('h1')).toBeUndefined();

    cache.listening(true);
    cache.set('h1', key('k1'), cache.generation());
    expect(cache.get('h1')).toEqual(key('k1'));

    cache.listening(false);
    expect(cache.get('h1')).toBeUndefined();
    cache.listening(true);
    expect(cache.get('h1')).toBeUndefined();
  });

  it('a notice forgets its key and only its key', () => {
    const cache = createKeyCache();
    cache.listening(true);
    cache.set('h1', key('k1'), cache.generation());
    cache.set('h2', key('k2'), cache.generation());
    cache.forget(['k1']);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toEqual(key('k2'));
  });

  it('does not keep an answer read before a notice that arrived while it was on its way', () => {
    const cache = createKeyCache();
    cache.listening(true);
    const started = cache.generation();
    cache.forget(['k1']); // the revocation's notice beats the lookup's answer
    cache.set('h1', key('k1'), started);
    expect(cache.get('h1')).toBeUndefined();

    const lostWhileLooking = cache.generation();
    cache.listening(false);
    cache.listening(true);
    cache.set('h1', key('k1'), lostWhileLooking);
    expect(cache.get('h1')).toBeUndefined();
  });

  it('trusts an entry for its maximum age only, and holds a bounded number', () => {
    let now = 0;
    const cache = createKeyCache({ maxAgeMs: 1000, maxEntries: 2, now: () => now });
    cache.listening(true);
    cache.set('h1', key('k1'), cache.generation());
    now = 999;
    expect(cache.get('h1')).toBeDefined();
    now = 1000;
    expect(cache.get('h1')).toBeUndefined();

    for (const n of [1, 2, 3]) cache.set(`h${n}`, key(`k${n}`), cache.generation());
    expect(cache.size).toBe(2);
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h3')).toBeDefined();
  });
});
