// The cost of an operation is the objects it may load: page sizes multiply what is under them.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costOf } from '../../src/graphql/limits.js';
import { buildSchema } from '../../src/graphql/schema.js';

const schema = buildSchema();
const cost = (query: string, variables: Record<string, unknown> = {}) => costOf(schema, parse(query), undefined, variables);

describe('query cost', () => {
  it('counts objects, not scalars', () => {
    // tenant (1) with its scalars
    expect(cost('{ tenant(id: "x") { id name slug } }')).toBe(1);
  });

  it('multiplies what is under a page by its size: first, last, or the default page of 20', () => {
    // members (1) + 100 x (edges 1 + node 1)
    expect(cost('{ members(first: 100) { edges { node { id } } } }')).toBe(201);
    expect(cost('{ members(last: 10) { edges { node { id } } } }')).toBe(21);
    expect(cost('{ members { edges { node { id } } } }')).toBe(41);
    // nested: 1 + 100 x (1 + 1 + (1 + 20 x 2))
    expect(cost('{ members(first: 100) { edges { node { groups(first: 20) { edges { node { name } } } } } } }')).toBe(4301);
  });

  it('reads page sizes from variables, and caps them at the maximum page the resolver allows', () => {
    const query = 'query ($n: Int) { members(first: $n) { edges { node { id } } } }';
    expect(cost(query, { n: 5 })).toBe(11);
    expect(cost(query, { n: 1_000_000 })).toBe(201);
  });

  it('leaves variables that do not fit to execution, and calls a field explosion infinite', () => {
    expect(cost('query ($n: Int) { members(first: $n) { totalCount } }', { n: 'many' })).toBeUndefined();
    const fragments = Array.from({ length: 8 }, (_, i) => `fragment F${i} on Query { ${i === 7 ? 'tenants { totalCount }' : `...F${i + 1} ...F${i + 1} ...F${i + 1} ...F${i + 1}`} }`);
    expect(cost(`query { ...F0 } ${fragments.join(' ')}`)).toBe(Number.POSITIVE_INFINITY);
  });
});
