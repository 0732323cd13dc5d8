import { describe, expect, it } from 'vitest';
import { pick, type Shape } from '../../src/lib/pick.js';

describe('pick', () => {
  const shape: Shape = { a: true, b: { c: true }, list: { id: true } };

  it('keeps the named fields, whole or in part, and nothing else', () => {
    expect(pick({ a: { deep: 1 }, b: { c: 2, d: 3 }, e: 4 }, shape)).toEqual({ a: { deep: 1 }, b: { c: 2 } });
  });

  it('applies a nested shape to each object of an array, dropping what is not an object', () => {
    expect(pick({ list: [{ id: 1, secret: 'x' }, 'loose', null, { other: 2 }] }, shape)).toEqual({ list: [{ id: 1 }, {}] });
  });

  it('drops a scalar where the shape expects an object, and an absent field stays absent', () => {
    expect(pick({ b: 'not an object' }, shape)).toEqual({});
    expect(pick('text', shape)).toBeNull();
  });

  it('never reads inherited properties', () => {
    expect(pick({ name: 'x' }, { toString: true, constructor: { name: true } } as Shape)).toEqual({});
  });
});
