import { describe, expect, it } from 'vitest';
import { makeVersion, parseRfc3339Nanos, versionTime } from '../../src/directory/version.js';

describe('ordering keys', () => {
  it('keep Stytch SCIM nanoseconds exactly', () => {
    expect(parseRfc3339Nanos('2024-12-02T20:02:35.962262780Z')).toBe(1733169755962262780n);
    expect(parseRfc3339Nanos('2024-01-02T03:04:05.678901Z')).toBe(1704164645678901000n);
    expect(parseRfc3339Nanos('2024-01-02T03:04:05Z')).toBe(1704164645000000000n);
  });
  it('honour offsets', () => {
    expect(parseRfc3339Nanos('2024-01-02T05:04:05.5+02:00')).toBe(parseRfc3339Nanos('2024-01-02T03:04:05.5Z'));
  });
  it('refuse what is not a timestamp', () => {
    for (const bad of ['2024-02-31T00:00:00Z', '2024-01-02 03:04', 'yesterday', '2024-01-02T25:00:00Z', '2024-01-02T03:04:05.1234567890Z']) {
      expect(parseRfc3339Nanos(bad), bad).toBeUndefined();
    }
  });
  it('compare as strings in time order, then by batch position', () => {
    const a = makeVersion(1733169755962262780n);
    const b = makeVersion(1733169755962262781n);
    const c = makeVersion(1733169755962262781n, 1);
    const later = makeVersion(10n ** 19n);
    expect([later, c, a, b].sort()).toEqual([a, b, c, later]);
    expect(versionTime(a).toISOString()).toBe('2024-12-02T20:02:35.962Z');
  });
  it('reject out-of-range parts', () => {
    expect(() => makeVersion(-1n)).toThrow(RangeError);
    expect(() => makeVersion(0n, 1_000_000)).toThrow(RangeError);
  });
});
