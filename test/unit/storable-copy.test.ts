// storableCopy: what is kept of a signed body Postgres cannot hold as it is.
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, storableCopy, unstorable } from '../../src/lib/storable-json.js';

describe('storableCopy', () => {
  it('replaces NUL characters and unpaired surrogates, in values and keys, and keeps the rest', () => {
    const copy = storableCopy({ a: 'x\u0000y', ['k\ud800']: ['\udc00z', 1, true, null], ok: { nested: 'fine 😀' } });
    expect(copy).toEqual({ a: 'x\uFFFDy', ['k\uFFFD']: ['\uFFFDz', 1, true, null], ok: { nested: 'fine 😀' } });
    expect(unstorable(copy)).toBeUndefined();
  });

  it('keeps a __proto__ key as an own key, without touching the prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "b": 1}') as unknown;
    const copy = storableCopy(parsed) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy).sort()).toEqual(['__proto__', 'b']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('cuts nesting at the limit with a note, without recursing (40,000 levels)', () => {
    const deep = JSON.parse(`${'['.repeat(40_000)}${']'.repeat(40_000)}`) as unknown;
    let level = storableCopy(deep);
    for (let depth = 0; depth < MAX_JSON_DEPTH; depth++) level = (level as unknown[])[0] as typeof level;
    expect(level).toBe(`[nested deeper than ${MAX_JSON_DEPTH} levels: not kept]`);
  });
});
