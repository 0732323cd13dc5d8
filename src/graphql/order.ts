// The order of a list and the positions in it. Without `orderBy` a list is in (created_at, id)
// order, compared as a row value so the (tenant_id, created_at, id) indexes serve it, and its
// cursors are the short ones clients already hold. With `orderBy` the keys asked for come
// first, then created_at and id as tie-breakers, so every order is total; a cursor then carries
// the order's signature and each key's value, and "after this position" is written out key by
// key (directions may differ, and names and emails may be null). Both read paths, the
// resolvers' and the compiled one (src/read), take their ORDER BY and bounds from here.
import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { connections, groups, members, tenants } from '../db/schema.js';
import { decodeCursor, encodeCursor, parseRowCursor, rowCursor } from './cursors.js';
import { badInput } from './errors.js';
import { isUuid } from '../lib/uuid.js';

/** The tables lists are read from. */
export type ListTable = typeof tenants | typeof connections | typeof members | typeof groups;

export type OrderField = 'CREATED_AT' | 'UPDATED_AT' | 'NAME' | 'EMAIL';
export interface OrderArg {
  field: OrderField;
  direction?: 'ASC' | 'DESC' | null;
}

type KeyKind = 'time' | 'text' | 'id';

export interface OrderKey {
  column: PgColumn;
  kind: KeyKind;
  desc: boolean;
  /** Names and emails may be null: nulls sort last going up, first going down (Postgres's default). */
  nullable: boolean;
}

export interface ListOrder {
  keys: OrderKey[];
  /** False for the default (created_at, id) order. */
  custom: boolean;
  /** Which order a cursor belongs to, e.g. `n-c+` (name down, created_at up, then id). */
  signature: string;
}

/** A row's place in a list: each key's value (epoch ms, text or null, the id), and the id. */
export interface Position {
  id: string;
  values: (number | string | null)[];
}

const FIELD_CODES: Record<OrderField, string> = { CREATED_AT: 'c', UPDATED_AT: 'u', NAME: 'n', EMAIL: 'e' };

function fieldColumn(table: ListTable, field: OrderField): { column: PgColumn; kind: KeyKind; nullable: boolean } | undefined {
  switch (field) {
    case 'CREATED_AT':
      return { column: table.createdAt, kind: 'time', nullable: false };
    case 'UPDATED_AT':
      return { column: table.updatedAt, kind: 'time', nullable: false };
    case 'NAME':
      return table === tenants ? undefined : { column: (table as typeof members | typeof groups | typeof connections).name, kind: 'text', nullable: true };
    case 'EMAIL':
      return table === members ? { column: members.email, kind: 'text', nullable: true } : undefined;
  }
}

/** The most keys an order takes: every field once. */
const MAX_ORDER_FIELDS = 4;

export const defaultOrder = (table: ListTable): ListOrder => ({
  keys: [
    { column: table.createdAt, kind: 'time', desc: false, nullable: false },
    { column: table.id, kind: 'id', desc: false, nullable: false },
  ],
  custom: false,
  signature: '',
});

/** The list's order from its `orderBy` argument (already typed by the schema's enums). */
export function listOrder(table: ListTable, orderBy: readonly OrderArg[] | null | undefined): ListOrder {
  if (!orderBy || orderBy.length === 0) return defaultOrder(table);
  if (orderBy.length > MAX_ORDER_FIELDS) throw badInput(`orderBy names ${orderBy.length} fields; a list has at most ${MAX_ORDER_FIELDS}`, 'orderBy');
  const keys: OrderKey[] = [];
  const seen = new Set<OrderField>();
  let signature = '';
  for (const { field, direction } of orderBy) {
    if (seen.has(field)) throw badInput(`orderBy names ${field} twice`, 'orderBy');
    seen.add(field);
    const column = fieldColumn(table, field);
    if (!column) throw badInput(`this list cannot be ordered by ${field}`, 'orderBy');
    const desc = direction === 'DESC';
    keys.push({ ...column, desc });
    signature += FIELD_CODES[field] + (desc ? '-' : '+');
  }
  if (!seen.has('CREATED_AT')) {
    keys.push({ column: table.createdAt, kind: 'time', desc: false, nullable: false });
    signature += 'c+';
  }
  keys.push({ column: table.id, kind: 'id', desc: false, nullable: false });
  // An order that is the default spelled out keeps the default's cursors and index.
  if (signature === 'c+') return defaultOrder(table);
  return { keys, custom: true, signature };
}

// ---- cursors ------------------------------------------------------------------------------------

/**
 * Text values travel as the hex of their UTF-8, so the cursor is ASCII whatever a name holds
 * and Postgres can write the same cursor (read/encode.ts) byte for byte.
 */
const hexOf = (text: string) => Buffer.from(text, 'utf8').toString('hex');
const HEX = /^(?:[0-9a-f]{2})*$/;

export function listCursor(order: ListOrder, p: Position): string {
  if (!order.custom) return rowCursor({ ms: p.values[0] as number, id: p.id });
  return encodeCursor([
    'o',
    order.signature,
    ...order.keys.map((k, i) => {
      const value = p.values[i] ?? null;
      return k.kind === 'text' && typeof value === 'string' ? hexOf(value) : value;
    }),
  ]);
}

const MAX_ROW_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function parseListCursor(order: ListOrder, cursor: string, argument: string): Position {
  if (!order.custom) {
    const row = parseRowCursor(cursor, argument);
    return { id: row.id, values: [row.ms, row.id] };
  }
  const [tag, signature, ...raw] = decodeCursor(cursor, argument);
  const invalid = () => badInput(`${argument} is not a valid cursor for this list in this order (a cursor belongs to the orderBy it was read with)`, argument);
  if (tag !== 'o' || signature !== order.signature || raw.length !== order.keys.length) throw invalid();
  const values = order.keys.map((k, i) => {
    const value = raw[i];
    switch (k.kind) {
      case 'time':
        if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > MAX_ROW_MS) throw invalid();
        return value as number;
      case 'id':
        if (!isUuid(value)) throw invalid();
        return value;
      case 'text': {
        if (value === null) return null;
        if (typeof value !== 'string' || !HEX.test(value)) throw invalid();
        const text = Buffer.from(value, 'hex').toString('utf8');
        // Bytes that are not UTF-8 (or a NUL, which no text column holds) come from no row of ours.
        if (hexOf(text) !== value || text.includes('\u0000')) throw invalid();
        return text;
      }
    }
  });
  return { id: values.at(-1) as string, values };
}

/** A row's position, from its columns as Drizzle maps them (Dates, strings). */
export function positionOfRow(order: ListOrder, row: Record<string, unknown>): Position {
  const values = order.keys.map((k) => {
    const value = row[columnKey(k.column)];
    return value instanceof Date ? value.getTime() : ((value as string | null | undefined) ?? null);
  });
  return { id: row.id as string, values };
}

const KEYS_BY_COLUMN = new Map<PgColumn, string>();
for (const table of [tenants, connections, members, groups] as ListTable[]) {
  for (const [key, column] of Object.entries(table)) {
    if (column && typeof column === 'object' && 'columnType' in column) KEYS_BY_COLUMN.set(column as PgColumn, key);
  }
}
/** The property a column's value has in a row Drizzle mapped. */
const columnKey = (column: PgColumn): string => KEYS_BY_COLUMN.get(column) ?? column.name;

// ---- SQL ----------------------------------------------------------------------------------------

const CASTS: Record<KeyKind, string> = { time: 'timestamptz', text: 'text', id: 'uuid' };
const sqlValue = (k: OrderKey, value: number | string | null): SQL =>
  k.kind === 'time' ? sql`${new Date(value as number).toISOString()}::timestamptz` : sql`${value}::${sql.raw(CASTS[k.kind])}`;

/**
 * Rows strictly after `p` in the list's order (`reverse`: strictly before it). Never null, so
 * its negation is "at or before", which pageInfo asks for.
 */
export function beyondPosition(order: ListOrder, p: Position, reverse = false): SQL {
  if (!order.custom) {
    const [createdAt, id] = order.keys as [OrderKey, OrderKey];
    return sql`(${createdAt.column}, ${id.column}) ${sql.raw(reverse ? '<' : '>')} (${sqlValue(createdAt, p.values[0] ?? 0)}, ${p.id}::uuid)`;
  }
  const alternatives: SQL[] = [];
  const equalSoFar: SQL[] = [];
  order.keys.forEach((k, i) => {
    const value = p.values[i] ?? null;
    // Later in the list: greater going up, smaller going down; null is the greatest value.
    const up = k.desc === reverse;
    let later: SQL | null;
    if (value === null) later = up ? null : sql`${k.column} is not null`;
    else if (up) later = k.nullable ? sql`(${k.column} > ${sqlValue(k, value)} or ${k.column} is null)` : sql`${k.column} > ${sqlValue(k, value)}`;
    else later = k.nullable ? sql`(${k.column} is not null and ${k.column} < ${sqlValue(k, value)})` : sql`${k.column} < ${sqlValue(k, value)}`;
    if (later) alternatives.push(sql.join([...equalSoFar, later], sql` and `));
    equalSoFar.push(
      value === null ? sql`${k.column} is null` : k.nullable ? sql`coalesce(${k.column} = ${sqlValue(k, value)}, false)` : sql`${k.column} = ${sqlValue(k, value)}`,
    );
  });
  return alternatives.length ? sql`(${sql.join(alternatives.map((a) => sql`(${a})`), sql` or `)})` : sql`false`;
}

/**
 * ORDER BY's list for reading in the display order (`backward`: its reverse), each column
 * written by `ref` (the table's own name, or an alias the compiled read uses).
 */
export function orderByText(order: ListOrder, backward: boolean, ref: (column: PgColumn) => string): string {
  return order.keys
    .map((k) => {
      const desc = k.desc !== backward;
      if (!k.nullable) return `${ref(k.column)}${desc ? ' desc' : ''}`;
      return `${ref(k.column)} ${desc ? 'desc nulls first' : 'asc nulls last'}`;
    })
    .join(', ');
}
