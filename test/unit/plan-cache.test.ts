import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import type { ReadPlan } from '../../src/read/compile.js';
import { PlanCache } from '../../src/read/plan-cache.js';

const plan = (n: number): ReadPlan => ({ keys: [{ key: `k${n}`, column: 'c0' }], statement: null });
const admin: Viewer = { kind: 'admin', keyId: null, name: 'admin' };
const tenant = (tenantId: string): Viewer => ({ kind: 'tenant', keyId: 'k', name: 'frontend', tenantId });

describe('compiled plans kept for reuse', () => {
  it('is reused only for the same document, operation, viewer scope and variables', () => {
    const cache = new PlanCache();
    const document = parse('query Q($n: Int) { members(first: $n) { totalCount } }');
    const key = cache.key(document, 'Q', tenant('a'), { n: 5 });
    cache.set(key, plan(1));
    expect(cache.get(cache.key(document, 'Q', tenant('a'), { n: 5 }))).toEqual(plan(1));
    // Another tenant, an admin, other variables, another operation or another parse: not this plan.
    for (const other of [
      cache.key(document, 'Q', tenant('b'), { n: 5 }),
      cache.key(document, 'Q', admin, { n: 5 }),
      cache.key(document, 'Q', tenant('a'), { n: 6 }),
      cache.key(document, 'R', tenant('a'), { n: 5 }),
      cache.key(parse('query Q($n: Int) { members(first: $n) { totalCount } }'), 'Q', tenant('a'), { n: 5 }),
    ]) {
      expect(other).not.toBe(key);
      expect(cache.get(other)).toBeUndefined();
    }
  });

  it('keeps a bounded number, dropping the least recently used', () => {
    const cache = new PlanCache(3);
    const document = parse('{ viewer { role } }');
    const keys = [1, 2, 3, 4].map((n) => cache.key(document, null, admin, { n }));
    cache.set(keys[0] as string, plan(0));
    cache.set(keys[1] as string, plan(1));
    cache.set(keys[2] as string, plan(2));
    cache.get(keys[0] as string);
    cache.set(keys[3] as string, plan(3));
    expect(cache.get(keys[1] as string)).toBeUndefined();
    expect(cache.get(keys[0] as string)).toEqual(plan(0));
    expect(cache.get(keys[3] as string)).toEqual(plan(3));
  });
});
