// Pure parts of the GraphQL layer: global ids, cursors and Relay argument validation.
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { feedCursor, parseFeedCursor, parseRowCursor, rowCursor } from '../../src/graphql/cursors.js';
import { expectGlobalId, parseGlobalId, toGlobalId } from '../../src/graphql/ids.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageWindow } from '../../src/graphql/pages.js';

const uuid = '0b7c6f1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e';

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return (error as GraphQLError).extensions.code;
  }
  return 'no error';
}

describe('global ids', () => {
  it('round-trip, stay opaque, and keep their type', () => {
    const id = toGlobalId('Member', uuid);
    expect(id).not.toContain(uuid);
    expect(parseGlobalId(id)).toEqual({ type: 'Member', id: uuid });
    expect(expectGlobalId(id, 'Member', 'id')).toBe(uuid);
    expect(codeOf(() => expectGlobalId(id, 'Tenant', 'tenantId'))).toBe('BAD_USER_INPUT');
  });

  it.each(['', 'x', '%%%', Buffer.from(`Nope:${uuid}`).toString('base64url'), Buffer.from('Member:not-a-uuid').toString('base64url'),
    Buffer.from(`Member:${uuid}:extra`).toString('base64url'), 'A'.repeat(500)])('rejects %j', (id) => {
    expect(parseGlobalId(id)).toBeUndefined();
  });
});

describe('cursors', () => {
  it('round-trip row and feed positions', () => {
    const p = { ms: 1_795_358_381_547, id: uuid };
    expect(parseRowCursor(rowCursor(p), 'after')).toEqual(p);
    expect(parseFeedCursor(feedCursor(42), 'after')).toBe(42);
  });

  it('refuses anything else with BAD_USER_INPUT, and one kind for the other', () => {
    for (const bad of ['', 'nope', '!!', Buffer.from('{}').toString('base64url'), Buffer.from('["r",1.5,"x"]').toString('base64url')]) {
      expect(codeOf(() => parseRowCursor(bad, 'after'))).toBe('BAD_USER_INPUT');
      expect(codeOf(() => parseFeedCursor(bad, 'after'))).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(() => parseFeedCursor(rowCursor({ ms: 1, id: uuid }), 'after'))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => parseRowCursor(feedCursor(1), 'after'))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => parseFeedCursor(Buffer.from('["s",-1]').toString('base64url'), 'after'))).toBe('BAD_USER_INPUT');
  });
});

describe('Relay arguments', () => {
  const parse = (c: string) => c;
  it('defaults, directions and limits', () => {
    expect(pageWindow({}, parse)).toEqual({ direction: 'forward', size: DEFAULT_PAGE_SIZE });
    expect(pageWindow({ first: 0 }, parse)).toEqual({ direction: 'forward', size: 0 });
    expect(pageWindow({ last: MAX_PAGE_SIZE, before: 'b' }, parse)).toEqual({ direction: 'backward', size: MAX_PAGE_SIZE, before: 'b' });
    expect(pageWindow({ first: 5, after: 'a', before: 'b' }, parse)).toEqual({ direction: 'forward', size: 5, after: 'a', before: 'b' });
  });

  it.each([{ first: MAX_PAGE_SIZE + 1 }, { last: MAX_PAGE_SIZE + 1 }, { first: -1 }, { first: 1, last: 1 }])('refuses %j', (args) => {
    expect(codeOf(() => pageWindow(args, parse))).toBe('BAD_USER_INPUT');
  });
});
