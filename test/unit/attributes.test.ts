import { describe, expect, it } from 'vitest';
import { attributesOf, pathSegments, valueAt } from '../../src/directory/attributes.js';

const URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('attribute paths', () => {
  it('splits on dots, except inside a SCIM schema URN, which runs to the name after its last colon', () => {
    expect(pathSegments('a.b.c')).toEqual(['a', 'b', 'c']);
    expect(pathSegments(`raw.${URN}.manager.value`)).toEqual(['raw', URN, 'manager', 'value']);
    expect(pathSegments(`${URN}.department`)).toEqual([URN, 'department']);
    expect(pathSegments(URN)).toEqual([URN]);
    expect(pathSegments('emails.0.value')).toEqual(['emails', '0', 'value']);
  });

  it('refuses empty segments', () => {
    for (const bad of ['', '.a', 'a.', 'a..b', `${URN}.`, `raw.${URN}..x`]) expect(pathSegments(bad)).toHaveProperty('error');
  });

  it('reads objects by key and lists by index, never through the prototype', () => {
    const raw = { a: { b: [{ c: 1 }, { c: 2 }] }, n: null };
    expect(valueAt(raw, ['a', 'b', '1', 'c'])).toBe(2);
    expect(valueAt(raw, ['a', 'b', 'x'])).toBeUndefined();
    expect(valueAt(raw, ['a', 'missing', 'c'])).toBeUndefined();
    expect(valueAt(raw, ['n', 'x'])).toBeUndefined();
    expect(valueAt(raw, ['a', 'constructor'])).toBeUndefined();
    expect(valueAt(raw, ['a', '__proto__'])).toBeUndefined();
    expect(valueAt(null, ['a'])).toBeUndefined();
  });

  it('maps what it finds, in mapping order, a name once, null as nothing', () => {
    const raw = { raw: { [URN]: { department: 'R&D', manager: { value: 'm1' } }, title: null }, tags: ['x'] };
    expect(
      attributesOf(
        [
          { name: 'manager', path: `raw.${URN}.manager.value` },
          { name: 'department', path: `raw.${URN}.department` },
          { name: 'title', path: 'raw.title' },
          { name: 'tag', path: 'tags.0' },
          { name: 'department', path: 'tags.0' },
          { name: 'broken', path: 'a..b' },
          { name: 'whole', path: `raw.${URN}.manager` },
        ],
        raw,
      ),
    ).toEqual({ manager: 'm1', department: 'R&D', tag: 'x', whole: { value: 'm1' } });
  });
});
