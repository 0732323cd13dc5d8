// Relay cursor pagination by keyset: rows are ordered by (created_at, id) or the list's orderBy
// (graphql/order.ts), a page is "the next n after this position", and the position is the cursor. No OFFSET, so page 1,000 of a large
// tenant costs what page 1 does, and rows inserted meanwhile never shift a page.
//
// A page's rows are read with their positions in one statement, and handed to the request's
// row loader so a later lookup by id costs nothing. Nested lists (each member's groups) are
// read for all parents at once with one LATERAL query, so a page of 50 members with their
// groups costs two statements, as a page of 5 does.
import { getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type DataLoader from 'dataloader';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { rowMapper } from '../db/map-row.js';
import { uuidArray } from '../db/uuid-array.js';
import { statusCountsSql, type MemberStatusCount } from './aggregates.js';
import { badInput } from './errors.js';
import {
  beyondPosition,
  listCursor,
  listOrder,
  orderByText,
  parseListCursor,
  positionOfRow,
  type ListOrder,
  type ListTable,
  type OrderArg,
  type Position,
} from './order.js';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** pageInfo with its costlier answers computed only when a client asks for them. */
export interface PageInfoSource {
  hasNextPage: () => Promise<boolean>;
  hasPreviousPage: () => Promise<boolean>;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Page<T> {
  edges: Edge<T>[];
  pageInfo: PageInfoSource;
  /** Rows matching the filter on all pages; counted only when asked for. */
  totalCount: () => Promise<number>;
  /** A member list's counts per status (MemberConnection.countsByStatus); none for other lists. */
  countsByStatus: () => Promise<MemberStatusCount[]>;
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface PageWindow<P> {
  direction: 'forward' | 'backward';
  size: number;
  after?: P;
  before?: P;
}

function pageSize(value: number, argument: string): number {
  if (value < 0) throw badInput(`${argument} must not be negative`, argument);
  if (value > MAX_PAGE_SIZE) {
    throw badInput(`${argument} is ${value}, above the maximum page size of ${MAX_PAGE_SIZE}: page with cursors`, argument);
  }
  return value;
}

/** Validates Relay arguments: first/after forwards, last/before backwards, not both sizes. */
export function pageWindow<P>(args: PageArgs, parse: (cursor: string, argument: string) => P): PageWindow<P> {
  const first = args.first ?? undefined;
  const last = args.last ?? undefined;
  if (first !== undefined && last !== undefined) {
    throw badInput('pass either first (with after) or last (with before), not both', 'last');
  }
  const window: PageWindow<P> =
    last !== undefined
      ? { direction: 'backward', size: pageSize(last, 'last') }
      : { direction: 'forward', size: first === undefined ? DEFAULT_PAGE_SIZE : pageSize(first, 'first') };
  if (args.after) window.after = parse(args.after, 'after');
  if (args.before) window.before = parse(args.before, 'before');
  return window;
}

export interface ListArgs extends PageArgs {
  orderBy?: readonly OrderArg[] | null;
}

/** A list's order and window from its arguments: the cursors are read in the order asked for. */
export function listWindow(table: ListTable, args: ListArgs): { order: ListOrder; window: PageWindow<Position> } {
  const order = listOrder(table, args.orderBy);
  return { order, window: pageWindow(args, (cursor, argument) => parseListCursor(order, cursor, argument)) };
}

export const emptyPage = <T>(): Page<T> => ({
  edges: [],
  pageInfo: { hasNextPage: async () => false, hasPreviousPage: async () => false, startCursor: null, endCursor: null },
  totalCount: async () => 0,
  countsByStatus: async () => [],
});

/** An edge whose cursor is encoded only if a client asks for it (nested lists rarely do). */
class LazyEdge<T, P> implements Edge<T> {
  #cursor: string | undefined;
  constructor(
    readonly node: T,
    readonly position: P,
    readonly encode: (p: P) => string,
  ) {}

  get cursor(): string {
    return (this.#cursor ??= this.encode(this.position));
  }
}

/**
 * Assembles a page from up to size+1 positions read in the window's direction (the extra one
 * only says there is more), in display order.
 */
export function assemblePage<T, P>(
  window: PageWindow<P>,
  positions: P[],
  nodes: Map<string, T>,
  key: (p: P) => string,
  cursor: (p: P) => string,
  more: {
    beyondStart: () => Promise<boolean>;
    beyondEnd: () => Promise<boolean>;
    totalCount: () => Promise<number>;
    countsByStatus?: () => Promise<MemberStatusCount[]>;
  },
): Page<T> {
  const hasMore = positions.length > window.size;
  let shown = positions.slice(0, window.size);
  if (window.direction === 'backward') shown = shown.reverse();
  // A row deleted between the two reads is left out rather than shown as null.
  const edges = shown.flatMap((p) => {
    const node = nodes.get(key(p));
    return node === undefined ? [] : [new LazyEdge(node, p, cursor)];
  });
  const known = async () => hasMore;
  return {
    edges,
    pageInfo: {
      hasNextPage: window.direction === 'forward' ? known : more.beyondEnd,
      hasPreviousPage: window.direction === 'backward' ? known : more.beyondStart,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: more.totalCount,
    countsByStatus: more.countsByStatus ?? (async () => []),
  };
}

// --- Lists of directory entities, in their order (graphql/order.ts) ---------------------------

export type { ListTable } from './order.js';

export interface ListSpec {
  table: ListTable;
  order: ListOrder;
  /** Filters and the viewer's tenant scope, ANDed. */
  conditions: SQL[];
  window: PageWindow<Position>;
  /** A member list's conditions without its filter's status, for countsByStatus. */
  statusCountConditions?: SQL[];
}

/** For a nested list: how a row belongs to the parent whose id is `parent`. */
export type ParentCondition = (parent: SQL) => SQL;

const whereAll = (conditions: SQL[]) => (conditions.length ? sql.join(conditions, sql` and `) : sql`true`);

/** The page's own conditions: filters plus the cursor bounds. */
function windowConditions(spec: ListSpec): SQL[] {
  const { order, window } = spec;
  const bounds: SQL[] = [];
  if (window.after) bounds.push(beyondPosition(order, window.after));
  if (window.before) bounds.push(beyondPosition(order, window.before, true));
  return [...spec.conditions, ...bounds];
}

/** Columns as Drizzle writes them in a statement over the list's own table. */
const ownColumn = (table: ListTable) => {
  const name = getTableName(table);
  return (column: PgColumn) => `"${name}"."${column.name}"`;
};

const orderText = (spec: ListSpec) => sql.raw(orderByText(spec.order, spec.window.direction === 'backward', ownColumn(spec.table)));

function orderAndLimit(spec: ListSpec): SQL {
  return sql`order by ${orderText(spec)} limit ${spec.window.size + 1}`;
}

async function exists(db: Database, table: ListTable, conditions: SQL[]): Promise<boolean> {
  const [row] = resultRows<{ found: boolean }>(
    await db.execute(sql`select exists(select 1 from ${table} where ${whereAll(conditions)}) as found`),
  );
  return row?.found === true;
}

/** Is there a matching row on the far side of the cursor the page started from? */
function beyond(db: Database, spec: ListSpec, side: 'start' | 'end', extra: SQL[] = []) {
  return async () => {
    const { table, window, order } = spec;
    const bound = side === 'start' ? window.after : window.before;
    if (!bound) return false;
    // At or before `after` is "not after it"; at or after `before` is "not before it".
    return exists(db, table, [...spec.conditions, ...extra, sql`not ${beyondPosition(order, bound, side === 'end')}`]);
  };
}

/** A member list's countsByStatus: the page's conditions without the window or the status. */
function statusCounts(db: Database, spec: ListSpec, extra: SQL[] = []) {
  return async (): Promise<MemberStatusCount[]> => {
    if (!spec.statusCountConditions) return [];
    const [row] = resultRows<{ counts: MemberStatusCount[] | string }>(
      await db.execute(sql`select ${statusCountsSql(whereAll([...spec.statusCountConditions, ...extra]))} as counts`),
    );
    const counts = row?.counts ?? [];
    return typeof counts === 'string' ? (JSON.parse(counts) as MemberStatusCount[]) : counts;
  };
}

/**
 * One page of a top-level list. `loader` (the request's rows by id) is handed the rows read, so
 * a field reaching one of them again reads nothing.
 */
export async function listPage<T>(db: Database, loader: DataLoader<string, T | undefined>, spec: ListSpec): Promise<Page<T>> {
  const { table, order } = spec;
  const map = rowMapper(table);
  const rows = resultRows<Record<string, unknown>>(
    await db.execute(sql`select ${table}.* from ${table} where ${whereAll(windowConditions(spec))} ${orderAndLimit(spec)}`),
  ).map((raw) => map(raw) as Record<string, unknown>);
  const positions = rows.map((row) => positionOfRow(order, row));
  const nodes = new Map<string, T>();
  for (const row of rows.slice(0, spec.window.size)) {
    nodes.set(row.id as string, row as T);
    loader.prime(row.id as string, row as T);
  }
  return assemblePage(spec.window, positions, nodes, (p) => p.id, (p) => listCursor(order, p), {
    beyondStart: beyond(db, spec, 'start'),
    beyondEnd: beyond(db, spec, 'end'),
    countsByStatus: statusCounts(db, spec),
    totalCount: async () => {
      const [row] = resultRows<{ n: number | string }>(
        await db.execute(sql`select count(*)::int as n from ${table} where ${whereAll(spec.conditions)}`),
      );
      return Number(row?.n ?? 0);
    },
  });
}

/**
 * Pages of a nested list for many parents at once: the batch function of a DataLoader keyed
 * by parent id. One query for the rows of every parent's page (handed to `loader` as well),
 * and one for all the counts if any is asked for.
 */
export function nestedPages<T>(
  db: Database,
  loader: DataLoader<string, T | undefined>,
  spec: ListSpec,
  belongs: ParentCondition,
  counts: DataLoader<string, number>['load'],
): (parents: readonly string[]) => Promise<Page<T>[]> {
  const { table, order } = spec;
  const map = rowMapper(table);
  return async (parents) => {
    // Each row's rank in its parent's page: the rows of one parent are put back in the order
    // Postgres read them in (text orders follow its collation, which JavaScript does not know).
    const rows = resultRows<Record<string, unknown>>(
      await db.execute(sql`
        select p.parent::text as __parent, x.*
        from unnest(${uuidArray(parents)}) as p(parent)
        cross join lateral (
          select ${table}.*, row_number() over (order by ${orderText(spec)}) as __rank from ${table}
          where ${whereAll([belongs(sql`p.parent`), ...windowConditions(spec)])}
          ${orderAndLimit(spec)}
        ) x`),
    );
    const byParent = new Map<string, { rank: number; position: Position }[]>();
    const nodes = new Map<string, T>();
    for (const raw of rows) {
      const row = map(raw) as Record<string, unknown>;
      const id = row.id as string;
      const parent = raw.__parent as string;
      const list = byParent.get(parent) ?? [];
      list.push({ rank: Number(raw.__rank), position: positionOfRow(order, row) });
      byParent.set(parent, list);
      if (!nodes.has(id)) {
        nodes.set(id, row as T);
        loader.prime(id, row as T);
      }
    }
    return parents.map((parent) => {
      // In reading order: the window's direction, as assemblePage expects.
      const positions = (byParent.get(parent) ?? []).sort((a, b) => a.rank - b.rank).map((r) => r.position);
      const mine = [belongs(sql`${parent}::uuid`)];
      return assemblePage(spec.window, positions, nodes, (p) => p.id, (p) => listCursor(order, p), {
        beyondStart: beyond(db, spec, 'start', mine),
        beyondEnd: beyond(db, spec, 'end', mine),
        countsByStatus: statusCounts(db, spec, mine),
        totalCount: () => counts(parent),
      });
    });
  };
}

/** Batch function counting a nested list's rows for many parents in one query. */
export function nestedCounts(
  db: Database,
  table: ListTable,
  conditions: SQL[],
  belongs: ParentCondition,
): (parents: readonly string[]) => Promise<number[]> {
  return async (parents) => {
    const rows = resultRows<{ parent: string; n: number | string }>(
      await db.execute(sql`
        select p.parent::text as parent,
          (select count(*)::int from ${table} where ${whereAll([belongs(sql`p.parent`), ...conditions])}) as n
        from unnest(${uuidArray(parents)}) as p(parent)`),
    );
    const counts = new Map(rows.map((r) => [r.parent, Number(r.n)]));
    return parents.map((p) => counts.get(p) ?? 0);
  };
}
