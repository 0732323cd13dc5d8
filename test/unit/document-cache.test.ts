// Operations over WebSocket are parsed and validated once per distinct text and shared.
import { describe, expect, it } from 'vitest';
import { createDocumentCache } from '../../src/graphql/subscriptions/documents.js';
import { buildSchema } from '../../src/graphql/schema.js';

const schema = buildSchema();
const op = (n: number) => `subscription S${n} { memberChanged { cursor } }`;

describe('document cache', () => {
  it('shares one document per text, and answers errors without keeping them', () => {
    const cache = createDocumentCache(schema);
    const first = cache.get(op(1));
    expect('kind' in first).toBe(true);
    expect(cache.get(op(1))).toBe(first);
    const invalid = cache.get('subscription { memberChanged { nope } }');
    expect(Array.isArray(invalid) && invalid[0]?.message).toMatch(/Cannot query field "nope"/);
    const broken = cache.get('subscription {');
    expect(Array.isArray(broken) && broken[0]?.message).toMatch(/Syntax Error/);
    expect(Array.isArray(invalid) && invalid[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(Array.isArray(broken) && broken[0]?.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(cache.size).toBe(1);
  });

  it('forgets the least recently used past its size, and never keeps long texts', () => {
    const cache = createDocumentCache(schema, { entries: 2, maxLength: 200 });
    const one = cache.get(op(1));
    cache.get(op(2));
    expect(cache.get(op(1))).toBe(one); // 1 is now the most recent
    cache.get(op(3)); // evicts 2
    expect(cache.get(op(1))).toBe(one);
    expect(cache.size).toBe(2);
    const long = `subscription Long { memberChanged { cursor } } ${'#'.repeat(300)}`;
    expect(cache.get(long)).not.toBe(cache.get(long));
  });
});
