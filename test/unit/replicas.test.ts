import { describe, expect, it } from 'vitest';
import { lsnBytes } from '../../src/db/replicas.js';

describe('WAL positions', () => {
  it('reads an LSN as Postgres prints it, high and low words in hex', () => {
    expect(lsnBytes('0/0')).toBe(0n);
    expect(lsnBytes('0/16B3748')).toBe(0x16b3748n);
    expect(lsnBytes('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    // Ordered as numbers, not as text ('A/0' sorts before '9/FFFFFFFF' as text).
    expect(lsnBytes('A/0') > lsnBytes('9/FFFFFFFF')).toBe(true);
  });
});
