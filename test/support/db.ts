// Reads the service's tables directly, to check what was stored.
import { sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/open.js';

/** The service's own tables (scans list every table; this says which must be among them). */
export const TABLES = [
  'tenants',
  'connections',
  'members',
  'groups',
  'memberships',
  'deliveries',
  'delivery_keys',
  'changes',
  'api_keys',
] as const;

export type Row = Record<string, unknown>;

function rowsOf(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  return ((result as { rows?: Row[] }).rows ?? []) as Row[];
}

export async function query(database: DatabaseHandle, text: ReturnType<typeof sql>): Promise<Row[]> {
  return rowsOf(await database.db.execute(text));
}

/** Every row of a table as JSON text, in a stable order. */
async function tableJson(database: DatabaseHandle, schema: string, table: string): Promise<string[]> {
  const rows = await query(
    database,
    sql`select row_to_json(t)::text as j from ${sql.identifier(schema)}.${sql.identifier(table)} t order by 1`,
  );
  return rows.map((r) => String(r.j));
}

/**
 * Every row of every table the database has outside Postgres's own catalogs (the service's
 * tables in `public`, drizzle's migration log, and any table added later), listed from
 * information_schema so that a new table can never escape a scan.
 */
export async function dumpEveryTable(database: DatabaseHandle): Promise<{ tables: string[]; text: string }> {
  const listed = await query(
    database,
    sql`select table_schema as s, table_name as t from information_schema.tables
        where table_schema <> 'information_schema' and left(table_schema, 3) <> 'pg_'
        order by 1, 2`,
  );
  const tables: string[] = [];
  const parts: string[] = [];
  for (const { s, t } of listed) {
    const name = `${String(s)}.${String(t)}`;
    tables.push(name);
    parts.push(`-- ${name}`, ...(await tableJson(database, String(s), String(t))));
  }
  return { tables, text: parts.join('\n') };
}

/** The whole database as text: every row of every table. */
export async function dumpAll(database: DatabaseHandle): Promise<string> {
  return (await dumpEveryTable(database)).text;
}

/** Like dumpAll, without the delivery log: what a delivery that applied nothing leaves alone. */
export async function dumpAllButDeliveries(database: DatabaseHandle): Promise<string> {
  const skip = new Set(['public.deliveries', 'public.delivery_keys']);
  const kept: string[] = [];
  let keep = true;
  for (const line of (await dumpEveryTable(database)).text.split('\n')) {
    if (line.startsWith('-- ')) keep = !skip.has(line.slice(3));
    if (keep) kept.push(line);
  }
  return kept.join('\n');
}

export async function count(database: DatabaseHandle, table: string): Promise<number> {
  const [row] = await query(database, sql`select count(*)::int as n from ${sql.identifier(table)}`);
  return Number(row?.n ?? 0);
}

/** One entity row by provider id, with snake_case columns as stored. */
export async function entity(
  database: DatabaseHandle,
  table: 'tenants' | 'connections' | 'members' | 'groups' | 'memberships',
  externalId: string,
): Promise<Row | undefined> {
  const rows = await query(
    database,
    sql`select * from ${sql.identifier(table)} where external_id = ${externalId}`,
  );
  return rows[0];
}
