// The API's encodings written in SQL, so Postgres emits exactly the text the resolvers would:
// global ids and cursors as graphql/ids.ts and graphql/cursors.ts write them, DateTime as
// Date.toISOString() does, and JSON objects in the order the operation asked for its fields.
// Each takes and returns SQL text; the values in them are column references or parameters.
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { IdType } from '../graphql/ids.js';
import type { ListOrder } from '../graphql/order.js';

/**
 * base64url without padding. Postgres's base64 breaks lines every 76 characters (a cursor is
 * longer), so line breaks go with the padding.
 */
const base64url = (bytes: string) => `translate(encode(${bytes}, 'base64'), E'+/=\\n', '-_')`;

/** toGlobalId(type, id): base64url of `Type:uuid`. */
export const globalIdSql = (type: IdType, id: string): string => base64url(`convert_to('${type}:' || ${id}::text, 'UTF8')`);

/** rowCursor({ ms, id }): base64url of `["r",<epoch ms>,"<uuid>"]`, as JSON.stringify writes it. */
export const rowCursorSql = (createdAt: string, id: string): string =>
  // date_part is double precision (extract is numeric, slower): the column holds whole
  // milliseconds, so the product is within a rounding error of them and ::bigint rounds.
  base64url(`convert_to('["r",' || (date_part('epoch', ${createdAt}) * 1000)::bigint::text || ',"' || ${id}::text || '"]', 'UTF8')`);

/**
 * listCursor(order, position) for an orderBy order (graphql/order.ts): base64url of
 * `["o","<signature>",<value>…]`, epoch ms for times, the hex of a text's UTF-8 (or null), the id.
 */
export function orderedCursorSql(order: ListOrder, ref: (column: PgColumn) => string): string {
  const values = order.keys.map((k) => {
    const c = ref(k.column);
    switch (k.kind) {
      case 'time':
        return `(date_part('epoch', ${c}) * 1000)::bigint::text`;
      case 'text':
        return `coalesce('"' || encode(convert_to(${c}, 'UTF8'), 'hex') || '"', 'null')`;
      case 'id':
        return `'"' || ${c}::text || '"'`;
    }
  });
  return base64url(`convert_to('["o","${order.signature}",' || ${values.join(` || ',' || `)} || ']', 'UTF8')`);
}

/** Date.prototype.toISOString(): UTC, milliseconds (truncated, as a Date truncates microseconds). */
export const dateTimeSql = (column: string): string => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** A text literal (type names, fixed words: never a client's input). */
export const textLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'::text`;

/** A GraphQL response key: a Name (spec 2.1.9), so it can stand in SQL as a literal as it is. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** json_build_object takes at most 100 arguments: 50 keys. */
export const MAX_OBJECT_KEYS = 50;

export class TooManyKeys extends Error {}

/** A JSON object with these keys in this order (json_build_object keeps the order given). */
export function jsonObject(entries: [string, string][]): string {
  if (entries.length > MAX_OBJECT_KEYS) throw new TooManyKeys(`${entries.length} keys in one object`);
  let out = 'json_build_object(';
  for (let i = 0; i < entries.length; i++) {
    const [key, value] = entries[i] as [string, string];
    if (!NAME.test(key)) throw new Error(`not a GraphQL name: ${key}`);
    out += `${i ? ', ' : ''}'${key}', ${value}`;
  }
  return `${out})`;
}
