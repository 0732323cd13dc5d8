// The cost of an operation is the objects it may load: page sizes multiply what is under them.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { COUNT_COST, SEARCH_COST, costOf } from '../../src/graphql/limits.js';
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

  it('is worked out again for each value of a variable that changes it, on the same parsed document', () => {
    const document = parse('query ($n: Int, $id: ID!, $x: Boolean!) { tenant(id: $id) { id } members(first: $n) @include(if: $x) { edges { node { id } } } }');
    const costs = (variables: Record<string, unknown>) => costOf(schema, document, undefined, variables);
    expect(costs({ n: 5, id: 'a', x: true })).toBe(12);
    expect(costs({ n: 5, id: 'b', x: true })).toBe(12);
    expect(costs({ n: 50, id: 'a', x: true })).toBe(102);
    expect(costs({ n: 50, id: 'a', x: false })).toBe(1);
    // An omitted size is the default page, not the last size asked for.
    expect(costs({ id: 'a', x: true })).toBe(42);
    const defaulted = parse('query ($n: Int = 3) { members(first: $n) { edges { node { id } } } }');
    expect(costOf(schema, defaulted, undefined, {})).toBe(7);
    expect(costOf(schema, defaulted, undefined, { n: null })).toBe(41);
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

  it('charges a search and a count for the whole list they read, once per list, nested ones per parent', () => {
    expect(cost('{ members(first: 1, filter: { search: "zz" }) { edges { node { id } } } }')).toBe(1 + SEARCH_COST + 2);
    expect(cost('{ members(first: 100) { totalCount } }')).toBe(1 + COUNT_COST);
    expect(cost('{ members(first: 100, filter: { search: "" }) { totalCount } }')).toBe(1 + COUNT_COST);
    // The hostile review's request: 15 aliased searches with counts, far past the default limit.
    const aliased = Array.from({ length: 15 }, (_, i) => `m${i}: members(first: 100, filter: { search: "zz${i}" }) { totalCount edges { node { id } } }`);
    expect(cost(`{ ${aliased.join(' ')} }`)).toBeGreaterThan(50_000);
    // One search under every tenant of a page: each is a search of a whole list.
    expect(cost('{ tenants(first: 10) { edges { node { members(filter: { search: "x" }) { totalCount } } } } }')).toBe(
      1 + 10 * (1 + 1 + (1 + SEARCH_COST + COUNT_COST)),
    );
    // A member's own groups are its memberships, read by index: about a page each.
    expect(cost('{ members(first: 10) { edges { node { groups(first: 5, filter: { search: "x" }) { totalCount } } } } }')).toBe(
      1 + 10 * (1 + 1 + (1 + 100 + 1)),
    );
  });

  it('charges countsByStatus and an orderBy as counts of the whole list, and memberCount as a page of memberships', () => {
    expect(cost('{ members(first: 100) { countsByStatus { status count } } }')).toBe(1 + COUNT_COST);
    expect(cost('{ members(first: 100) { totalCount ... on MemberConnection { countsByStatus { count } } } }')).toBe(1 + 2 * COUNT_COST);
    expect(cost('{ members(first: 1, orderBy: { field: NAME }) { edges { node { id } } } }')).toBe(1 + COUNT_COST + 2);
    // The order is read from a variable too (the cost of one document differs with its variables).
    const ordered = 'query ($o: [MemberOrder!]) { members(first: 1, orderBy: $o) { edges { node { id } } } }';
    expect(cost(ordered, { o: [] })).toBe(1 + 2);
    expect(cost(ordered, { o: [{ field: 'EMAIL' }] })).toBe(1 + COUNT_COST + 2);
    expect(cost('{ groups(first: 10) { edges { node { memberCount } } } }')).toBe(1 + 10 * (1 + 1 + 1));
    // A filter by appRole works out every member's role: a search's worth on a whole list.
    expect(cost('{ members(first: 1, filter: { appRole: "admin" }) { edges { node { id } } } }')).toBe(1 + SEARCH_COST + 2);
  });

  it('charges a longer search more: once per started 20 characters of its text', () => {
    const search = (text: string) => cost(`query ($s: String) { members(first: 1, filter: { search: $s }) { edges { node { id } } } }`, { s: text });
    expect(search('ab')).toBe(1 + SEARCH_COST + 2);
    expect(search('a'.repeat(20))).toBe(1 + 2 * SEARCH_COST + 2);
    expect(search('a'.repeat(100))).toBe(1 + 6 * SEARCH_COST + 2);
  });

  it('charges the same fields the same, inline or in a named fragment', () => {
    const inline = '{ tenants(first: 100) { edges { node { members(first: 0) { totalCount } groups(first: 0) { totalCount } } } } }';
    const named = `{ tenants(first: 100) { edges { node { ...C ...G } } } }
      fragment C on Tenant { members(first: 0) { ...N } }
      fragment G on Tenant { groups(first: 0) { totalCount } }
      fragment N on MemberConnection { totalCount }`;
    expect(cost(named)).toBe(cost(inline));
    expect(cost(inline)).toBeGreaterThan(50_000);
  });
});
