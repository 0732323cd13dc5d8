// Cursors: opaque to clients, but plain positions for us. A list of rows ordered by
// (created_at, id) is positioned by that pair; the change feed by its sequence number.
// Anything a client sends back that is not one of ours is BAD_USER_INPUT, never a 500.
import { badInput } from './errors.js';
import { isUuid } from '../lib/uuid.js';

export interface RowPosition {
  /** created_at (or received_at) in epoch milliseconds: columns are stored to the ms. */
  ms: number;
  id: string;
}

export const encodeCursor = (value: unknown[]): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const encode = encodeCursor;

/**
 * The longest cursor read: one in a list ordered by name or email carries those values (as
 * graphql/order.ts writes them), so it is as long as they are.
 */
const MAX_CURSOR_LENGTH = 16_384;

export function decodeCursor(cursor: string, argument: string): unknown[] {
  const invalid = badInput(`${argument} is not a valid cursor: pass back a cursor this API returned`, argument);
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value)) return value;
  } catch {
    // fall through: not JSON
  }
  throw invalid;
}

export const rowCursor = (p: RowPosition): string => encode(['r', p.ms, p.id]);

/**
 * Times a row can have: from 1970 to the end of year 9999. Beyond that a Date either does not
 * exist or is written with a six-digit year that Postgres does not read, so a forged cursor
 * would reach the database as an error instead of being refused here.
 */
const MAX_ROW_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function parseRowCursor(cursor: string, argument: string): RowPosition {
  const [tag, ms, id, ...rest] = decodeCursor(cursor, argument);
  if (
    tag !== 'r' ||
    rest.length > 0 ||
    !Number.isSafeInteger(ms) ||
    (ms as number) < 0 ||
    (ms as number) > MAX_ROW_MS ||
    !isUuid(id)
  ) {
    throw badInput(`${argument} is not a valid cursor for this list`, argument);
  }
  return { ms: ms as number, id };
}

export const feedCursor = (seq: number): string => encode(['s', seq]);

export function parseFeedCursor(cursor: string, argument: string): number {
  const [tag, seq, ...rest] = decodeCursor(cursor, argument);
  if (tag !== 's' || rest.length > 0 || !Number.isSafeInteger(seq) || (seq as number) < 0) {
    throw badInput(`${argument} is not a valid change-feed cursor`, argument);
  }
  return seq as number;
}
