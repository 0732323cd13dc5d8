// A list of uuids as one statement parameter (a Postgres array literal), so that a statement
// naming any number of rows has one text: prepared once per connection, planned once, and
// built without a parameter per id.
import { eq, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { isUuidAnyCase } from '../lib/uuid.js';


/** The ids as an array literal. Throws on anything that is not a uuid (it would not be one element). */
export function uuidArrayLiteral(ids: readonly string[]): string {
  for (const id of ids) if (!isUuidAnyCase(id)) throw new Error(`not a uuid: ${JSON.stringify(id).slice(0, 60)}`);
  return `{${ids.join(',')}}`;
}

/** The ids as a `uuid[]` expression. */
export function uuidArray(ids: readonly string[]): SQL {
  return sql`${uuidArrayLiteral(ids)}::uuid[]`;
}

/** `column` is one of `ids`: a plain equality for one (the common case), `= any(…)` for more. */
export function oneOf(column: AnyColumn, ids: readonly string[]): SQL {
  return ids.length === 1 ? eq(column, ids[0]!) : sql`${column} = any(${uuidArray(ids)})`;
}
