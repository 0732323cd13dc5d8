// Row access shared by every entity table. All five tables carry the same versioning columns
// (db/schema.ts), so the ordering guard is written once against those columns; the columns
// that differ per kind are produced by `dataColumns`, checked against each table's types.
import { and, eq, getTableColumns, isNull, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { uuidArray } from '../db/uuid-array.js';
import { connections, groups, members, memberships, tenants } from '../db/schema.js';
import type { StoredState } from './decide.js';
import type {
  ConnectionKey,
  DirectoryChange,
  EntityKey,
  EntityKind,
  TenantKey,
} from './types.js';

export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

interface VersionedTable extends PgTable {
  id: PgColumn;
  provider: PgColumn;
  externalId: PgColumn;
  liveVersion: PgColumn;
  deletedAt: PgColumn;
  dataVersion: PgColumn;
  dataHash: PgColumn;
  dataFromSnapshot: PgColumn;
  updatedAt: PgColumn;
}

const TABLES: Record<EntityKind, VersionedTable> = {
  TENANT: tenants,
  CONNECTION: connections,
  MEMBER: members,
  GROUP: groups,
  MEMBERSHIP: memberships,
};

/** Internal ids of the rows a change's data points at. */
export interface ResolvedRefs {
  tenantId: string | null;
  connectionId: string | null;
  groupId: string | null;
  memberId: string | null;
}

export interface LockedRow extends StoredState {
  id: string;
  tenantId: string | null;
}

type AnyKey = TenantKey | ConnectionKey | EntityKey;

function keyCondition(kind: EntityKind, key: AnyKey) {
  const table = TABLES[kind];
  const base = and(eq(table.provider, key.provider), eq(table.externalId, key.externalId));
  return kind === 'TENANT'
    ? and(base, eq(tenants.product, (key as TenantKey).product))
    : and(base, eq((table as typeof members).scope, scopeOf(key as EntityKey)));
}

/** The scope column's value for a key (see db/schema.ts). */
export const scopeOf = (key: { scope?: string }): string => key.scope ?? '';

function selection(kind: EntityKind) {
  const table = TABLES[kind];
  return {
    id: table.id,
    liveVersion: table.liveVersion,
    deletedAt: table.deletedAt,
    dataVersion: table.dataVersion,
    dataHash: table.dataHash,
    dataFromSnapshot: table.dataFromSnapshot,
    // Tenants have no tenant and no status; memberships no status.
    tenantId: kind === 'TENANT' ? tenants.id : (table as typeof members).tenantId,
    status:
      kind === 'CONNECTION' || kind === 'MEMBER'
        ? (table as typeof members).status
        : sql<string | null>`null`,
  };
}

function toLocked(row: {
  id: unknown;
  liveVersion: unknown;
  deletedAt: unknown;
  dataVersion: unknown;
  dataHash: unknown;
  dataFromSnapshot: unknown;
  tenantId: unknown;
  status: unknown;
}): LockedRow {
  return {
    id: row.id as string,
    liveVersion: (row.liveVersion as string | null) ?? null,
    deleted: row.deletedAt !== null && row.deletedAt !== undefined,
    dataVersion: (row.dataVersion as string | null) ?? null,
    dataHash: (row.dataHash as string | null) ?? null,
    dataFromSnapshot: row.dataFromSnapshot === true,
    tenantId: (row.tenantId as string | null) ?? null,
    status: (row.status as string | null) ?? null,
  };
}

/**
 * Reads a row and locks it until the transaction ends. NO KEY UPDATE, the lock an UPDATE of
 * non-key columns takes (ingest never changes a key): FOR UPDATE would also block the KEY SHARE
 * lock that another delivery's foreign key to this row (a change-feed row naming its tenant)
 * takes while holding the feed lock, and the two deliveries would deadlock.
 */
export async function lockRow(tx: Tx, kind: EntityKind, key: AnyKey): Promise<LockedRow | undefined> {
  const rows = await tx
    .select(selection(kind))
    .from(TABLES[kind])
    .where(keyCondition(kind, key))
    .for('no key update');
  return rows[0] ? toLocked(rows[0]) : undefined;
}

/** Identifies a row by its key within a kind (the map key of lockRows). */
export function rowKey(kind: EntityKind, key: AnyKey): string {
  return keyOfRow(kind, key.provider, kind === 'TENANT' ? (key as TenantKey).product : scopeOf(key as EntityKey), key.externalId);
}

/** rowKey from a stored row's columns (`part`: its scope, or a tenant's product). */
const keyOfRow = (kind: EntityKind, provider: string, part: string, externalId: string) =>
  JSON.stringify([kind, provider, part, externalId]);

/**
 * Reads and locks, in one statement, the rows of these keys that exist; a key without a row
 * maps to null. Rows are locked in the order of their keys, so transactions that lock
 * overlapping sets this way wait for each other instead of deadlocking.
 */
export async function lockRows(tx: Tx, kind: EntityKind, keys: AnyKey[]): Promise<Map<string, LockedRow | null>> {
  const found = new Map<string, LockedRow | null>(keys.map((k) => [rowKey(kind, k), null]));
  if (keys.length === 0) return found;
  const part = sql.raw(kind === 'TENANT' ? 'product' : 'scope');
  const tenantColumn = sql.raw(kind === 'TENANT' ? 't.id' : 't.tenant_id');
  const status = sql.raw(kind === 'CONNECTION' || kind === 'MEMBER' ? 't.status' : 'null::text');
  // In one order for every batch (the keys' own), so batches locking overlapping rows wait
  // for each other instead of deadlocking.
  const wanted = JSON.stringify(
    keys
      .map((k) => [k.provider, kind === 'TENANT' ? (k as TenantKey).product : scopeOf(k as EntityKey), k.externalId])
      .sort(compareKeys),
  );
  const rows = resultRows<{
    id: string;
    live_version: string | null;
    deleted_at: unknown;
    data_version: string | null;
    data_hash: string | null;
    data_from_snapshot: boolean;
    tenant_id: string | null;
    status: string | null;
    provider: string;
    part: string;
    external_id: string;
  }>(
    // The keys travel as one JSON array of [provider, scope or product, external id], so the
    // text is the same whatever their number (prepared once). LATERAL makes each key an index
    // lookup on the natural key whatever the planner guesses of the array's length (a join
    // would read small tables whole), and locks the rows in the keys' order.
    await tx.execute(sql`
      select t.*
      from jsonb_array_elements(${wanted}::jsonb) with ordinality as w (k, n)
      cross join lateral (
        select t.id, t.live_version, t.deleted_at, t.data_version, t.data_hash, t.data_from_snapshot,
          ${tenantColumn} as tenant_id, ${status} as status, t.provider, t.${part} as part, t.external_id
        from ${TABLES[kind]} as t
        where t.provider = w.k ->> 0 and t.${part} = w.k ->> 1 and t.external_id = w.k ->> 2
        for no key update
      ) as t
      order by w.n`),
  );
  for (const row of rows) {
    found.set(
      keyOfRow(kind, row.provider, row.part, row.external_id),
      toLocked({
        id: row.id,
        liveVersion: row.live_version,
        deletedAt: row.deleted_at,
        dataVersion: row.data_version,
        dataHash: row.data_hash,
        dataFromSnapshot: row.data_from_snapshot,
        tenantId: row.tenant_id,
        status: row.status,
      }),
    );
  }
  return found;
}

/**
 * When each of these directories ended (its delete's version), by rowKey('CONNECTION', key):
 * null when it has not ended or is not stored. One statement for a batch's directories.
 *
 * The rows are share-locked until the transaction ends. A directory's delete updates its row
 * and then ends what it provisioned; without the lock, a member this transaction adds to a
 * directory it read as live could commit after the delete looked for the directory's members,
 * and stay live for good. With it, the delete waits for this transaction (and then finds the
 * member), or this transaction waits for the delete (and reads that the directory ended).
 */
export async function directoryEnds(tx: Tx, keys: EntityKey[]): Promise<Map<string, string | null>> {
  const ends = new Map<string, string | null>(keys.map((k) => [rowKey('CONNECTION', k), null]));
  if (keys.length === 0) return ends;
  const wanted = JSON.stringify(keys.map((k) => [k.provider, scopeOf(k), k.externalId]).sort(compareKeys));
  const rows = resultRows<{ provider: string; scope: string; external_id: string; ended: string | null }>(
    // As in lockRows: one index lookup per key, locked in the keys' order.
    await tx.execute(sql`
      select c.*
      from jsonb_array_elements(${wanted}::jsonb) with ordinality as w (k, n)
      cross join lateral (
        select c.provider, c.scope, c.external_id, c.ended_at_version as ended from ${connections} as c
        where c.provider = w.k ->> 0 and c.scope = w.k ->> 1 and c.external_id = w.k ->> 2 and c.kind = 'DIRECTORY'
        for share
      ) as c
      order by w.n`),
  );
  for (const row of rows) ends.set(keyOfRow('CONNECTION', row.provider, row.scope, row.external_id), row.ended);
  return ends;
}

function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/** Reads a row without locking it (parents are referenced, not changed). */
export async function findRow(tx: Tx, kind: EntityKind, key: AnyKey): Promise<LockedRow | undefined> {
  const rows = await tx.select(selection(kind)).from(TABLES[kind]).where(keyCondition(kind, key));
  return rows[0] ? toLocked(rows[0]) : undefined;
}

/** The key columns of a new row, plus whatever a placeholder of this kind needs. */
export function keyColumns(kind: EntityKind, key: AnyKey): Record<string, unknown> {
  const columns: Record<string, unknown> = { provider: key.provider, externalId: key.externalId };
  if (kind === 'TENANT') columns.product = (key as TenantKey).product;
  else columns.scope = scopeOf(key as EntityKey);
  if (kind === 'CONNECTION') columns.kind = (key as ConnectionKey).kind;
  return columns;
}

/**
 * Inserts a row for `key` unless one exists. Returns the new row, or undefined when another
 * transaction got there first (the caller then reads that one).
 */
export async function insertRow(
  tx: Tx,
  kind: EntityKind,
  key: AnyKey,
  initial: Record<string, unknown>,
): Promise<LockedRow | undefined> {
  const table = TABLES[kind];
  const rows = await tx
    .insert(table as PgTable)
    .values({ ...keyColumns(kind, key), ...initial })
    .onConflictDoNothing()
    .returning(selection(kind));
  return rows[0] ? toLocked(rows[0]) : undefined;
}

/** Column names by Drizzle property name, per kind. */
const COLUMN_NAMES = Object.fromEntries(
  Object.entries(TABLES).map(([kind, table]) => [
    kind,
    new Map(Object.entries(getTableColumns(table)).map(([property, column]) => [property, column.name])),
  ]),
) as Record<EntityKind, Map<string, string>>;

/** A row to write: Drizzle property names to values, `id` included. */
export type RowValues = Record<string, unknown> & { id: string };

/**
 * Rows of one kind grouped by the columns they set, each group as one JSON array keyed by
 * column name: one statement per group, of a text that depends on the columns only (so it
 * is prepared once), whatever the number of rows.
 */
function byColumns(kind: EntityKind, rows: RowValues[]): { columns: string[]; json: string; ids: string[] }[] {
  const names = COLUMN_NAMES[kind];
  const groups = new Map<string, { columns: string[]; rows: Record<string, unknown>[]; ids: string[] }>();
  for (const row of rows) {
    const properties = Object.keys(row).filter((p) => row[p] !== undefined).sort();
    const signature = properties.join(',');
    let group = groups.get(signature);
    if (!group) {
      group = {
        columns: properties.map((p) => {
          const name = names.get(p);
          if (!name) throw new Error(`${kind} has no column ${p}`);
          return name;
        }),
        rows: [],
        ids: [],
      };
      groups.set(signature, group);
    }
    group.rows.push(Object.fromEntries(properties.map((p, i) => [group.columns[i], row[p]])));
    group.ids.push(row.id);
  }
  return [...groups.values()].map((g) => ({ columns: g.columns, json: JSON.stringify(g.rows), ids: g.ids }));
}

const columnList = (columns: string[], prefix = '') =>
  sql.raw(columns.map((c) => `${prefix}"${c}"`).join(', '));

/**
 * Inserts rows of one kind, skipping those whose key already has a row (another transaction
 * got there first). Returns the ids of the rows inserted. The rows travel as JSON and are
 * typed by the table's own row type, so a batch of any size is one statement per column set.
 */
export async function insertRows(tx: Tx, kind: EntityKind, rows: RowValues[]): Promise<Set<string>> {
  const table = TABLES[kind];
  const inserted = await Promise.all(
    byColumns(kind, rows).map(async ({ columns, json }) =>
      resultRows<{ id: string }>(
        await tx.execute(sql`
          insert into ${table} (${columnList(columns)})
          select ${columnList(columns, 'v.')} from jsonb_populate_recordset(null::${table}, ${json}::jsonb) as v
          on conflict do nothing
          returning id`),
      ),
    ),
  );
  return new Set(inserted.flat().map((r) => r.id));
}

/**
 * `updated_at` moves only when what a reader sees moves: the object's data (its hash) or its
 * liveness. A write that only advances a version (the same data again, newer; a reconciliation
 * that finds nothing changed) leaves it, so a frontend does not see every object "updated".
 */
function updatedAtFor(columns: string[]): string {
  const visible = ['data_hash', 'deleted_at'].filter((c) => columns.includes(c));
  if (visible.length === 0) return '"updated_at" = t."updated_at"';
  return `"updated_at" = case when ${visible.map((c) => `t."${c}" is distinct from v."${c}"`).join(' or ')} then now() else t."updated_at" end`;
}

/** Updates rows of one kind by id, each with its own values: one statement per column set. */
export async function updateRows(tx: Tx, kind: EntityKind, rows: RowValues[]): Promise<void> {
  const table = TABLES[kind];
  await Promise.all(
    byColumns(kind, rows).map(({ columns, json, ids }) => {
      const set: SQL = sql.raw([...columns.filter((c) => c !== 'id').map((c) => `"${c}" = v."${c}"`), updatedAtFor(columns)].join(', '));
      // The ids again, as an array: the planner then fetches the rows by id, where it would
      // read a small table whole to join it with rows it cannot count.
      return tx.execute(sql`
        update ${table} as t set ${set}
        from jsonb_populate_recordset(null::${table}, ${json}::jsonb) as v
        where t.id = v.id and t.id = any(${uuidArray(ids)})`);
    }),
  );
}

/**
 * A placeholder learns its tenant from the first child that names it. Only a row that has
 * never had data and has no tenant is touched, so this is the same whatever the order.
 */
export async function adoptTenant(tx: Tx, kind: EntityKind, id: string, tenantId: string): Promise<void> {
  const table = TABLES[kind] as typeof members;
  await tx
    .update(table)
    .set({ tenantId })
    .where(and(eq(table.id, id), isNull(table.tenantId), isNull(table.dataHash)));
}

/** The typed columns a change's data sets, checked against each table's insert type. */
export function dataColumns(change: DirectoryChange, refs: ResolvedRefs): Record<string, unknown> {
  switch (change.entity) {
    case 'TENANT': {
      const d = change.data;
      if (!d) return {};
      return { name: d.name, slug: d.slug, raw: d.raw } satisfies Partial<typeof tenants.$inferInsert>;
    }
    case 'CONNECTION': {
      const d = change.data;
      if (!d) return {};
      return {
        tenantId: refs.tenantId,
        kind: d.kind,
        status: d.status,
        name: d.name,
        raw: d.raw,
      } satisfies Partial<typeof connections.$inferInsert>;
    }
    case 'MEMBER': {
      const d = change.data;
      if (!d) return {};
      return {
        tenantId: refs.tenantId,
        connectionId: refs.connectionId,
        email: d.email,
        name: d.name,
        firstName: d.firstName,
        lastName: d.lastName,
        status: d.status,
        roles: d.roles,
        raw: d.raw,
      } satisfies Partial<typeof members.$inferInsert>;
    }
    case 'GROUP': {
      const d = change.data;
      if (!d) return {};
      return {
        tenantId: refs.tenantId,
        connectionId: refs.connectionId,
        name: d.name,
        raw: d.raw,
      } satisfies Partial<typeof groups.$inferInsert>;
    }
    case 'MEMBERSHIP': {
      const d = change.data;
      if (!d) return {};
      return {
        tenantId: refs.tenantId,
        groupId: refs.groupId,
        memberId: refs.memberId,
        raw: d.raw,
      } satisfies Partial<typeof memberships.$inferInsert>;
    }
  }
}
