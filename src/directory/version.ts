// Ordering keys. A version is "<epoch nanoseconds, 20 digits>.<position, 6 digits>": fixed
// width, so comparing the strings compares the times, in TypeScript and in SQL alike.
// Nanoseconds keep Stytch's SCIM timestamps exact; the position orders events that share a
// timestamp inside one Polis batch.
import type { Version } from './types.js';

const NS_DIGITS = 20;
const POSITION_DIGITS = 6;
const MAX_NS = 10n ** BigInt(NS_DIGITS);
const MAX_POSITION = 10 ** POSITION_DIGITS;

export function makeVersion(epochNanos: bigint, position = 0): Version {
  if (epochNanos < 0n || epochNanos >= MAX_NS) {
    throw new RangeError(`time out of range for an ordering key: ${epochNanos}ns`);
  }
  if (!Number.isInteger(position) || position < 0 || position >= MAX_POSITION) {
    throw new RangeError(`position out of range for an ordering key: ${position}`);
  }
  return `${epochNanos.toString().padStart(NS_DIGITS, '0')}.${position
    .toString()
    .padStart(POSITION_DIGITS, '0')}` as Version;
}

/** The wall-clock time of a version, to millisecond precision. */
export function versionTime(version: string): Date {
  const nanos = BigInt(version.slice(0, NS_DIGITS));
  return new Date(Number(nanos / 1_000_000n));
}

export function nanosFromMillis(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * 1_000_000n;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an RFC 3339 timestamp to epoch nanoseconds without losing the sub-millisecond
 * digits (Date would). Returns undefined when it is not a valid timestamp.
 */
export function parseRfc3339Nanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  // Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear takes them as written.
  const check = new Date(0);
  check.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  check.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const ms = check.getTime();
  // 2024-02-31 rolls over to March; a real timestamp round-trips.
  if (
    Number.isNaN(ms) ||
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const nanos =
    nanosFromMillis(ms - offsetMinutes * 60_000) + BigInt(frac.padEnd(9, '0') || '0');
  // Before 1970 is a valid timestamp, negative here: whether to believe it is the caller's call.
  return nanos;
}
