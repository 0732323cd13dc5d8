import { describe, expect, it } from 'vitest';
import { truncate } from '../../src/lib/truncate.js';

describe('truncate', () => {
  it('cuts to the length asked, but never inside a surrogate pair', () => {
    expect(truncate('abcdef', 3)).toBe('abc');
    expect(truncate('abc', 10)).toBe('abc');
    // '\u{10000}' is two code units: cutting after the first would leave a lone surrogate.
    expect(truncate('ab\u{10000}cd', 3)).toBe('ab');
    expect(truncate('ab\u{10000}cd', 4)).toBe('ab\u{10000}');
    for (let n = 0; n < 12; n++) expect(truncate('\u{1F600}'.repeat(6), n)).not.toMatch(/[\uD800-\uDBFF]$/);
  });
});
