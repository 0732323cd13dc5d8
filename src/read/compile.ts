// A query operation, its variables and the viewer, compiled to one SQL statement that builds
// each root field's JSON inside Postgres: the viewer's tenant scope, filters, keyset pages and
// pageInfo, nested lists (correlated subqueries over each parent row), fragments, aliases,
// @skip/@include and __typename. The same conditions the resolvers use (graphql/filters.ts) are
// used here, so both paths select the same rows; the resolver path stays as the oracle the
// differential test holds this one to.
//
// A root field the compiler cannot express (a resolver's own code: the change feed, deliveries,
// reconcile runs, introspection, a tenant viewer's `raw`), or whose arguments the resolver would
// answer with an error, is left to the resolvers: the caller runs those beside the statement.
import {
  getArgumentValues,
  getNamedType,
  GraphQLError,
  isObjectType,
  type FieldNode,
  type GraphQLField,
  type GraphQLObjectType,
  type SelectionSetNode,
} from 'graphql';
import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { viewerTenant, type Scope, type Viewer } from '../auth/viewer.js';
import { PROVIDERS, type EntityKind } from '../directory/types.js';
import type { PublicRaw } from '../sources/types.js';
import { connections, groups, members, memberships, tenants } from '../db/schema.js';
import { statusCountsSql } from '../graphql/aggregates.js';
import {
  appRoleSql,
  connectionConditions,
  groupConditions,
  groupOfMemberRow,
  memberConditions,
  memberOfGroupRow,
  tenantConditions,
  tenantScope,
  withoutStatus,
} from '../graphql/filters.js';
import type {
  ConnectionFilter,
  GroupFilter,
  MemberFilter,
  TenantFilter,
} from '../graphql/generated/resolvers.js';
import { expectGlobalId, parseGlobalId } from '../graphql/ids.js';
import { beyondPosition, orderByText, type ListOrder, type Position } from '../graphql/order.js';
import { listWindow, type ListArgs, type ListTable, type PageWindow } from '../graphql/pages.js';
import { dateTimeSql, globalIdSql, jsonObject, orderedCursorSql, rowCursorSql, textLiteral as text, TooManyKeys } from './encode.js';
import { Statement } from './statement.js';
import { collectFields, subSelections, type SelectionContext } from './select.js';

/** Something the statement cannot say; the root field it is in goes to the resolvers. */
export class NotCompiled extends Error {}

type EntityType = 'Tenant' | 'Connection' | 'Member' | 'Group' | 'Membership';
type ListType = Exclude<EntityType, 'Membership'>;

const TABLES = { Tenant: tenants, Connection: connections, Member: members, Group: groups, Membership: memberships } as const;
type EntityTable = (typeof TABLES)[EntityType];

const TABLE_NAMES: Record<EntityType, string> = {
  Tenant: '"tenants"',
  Connection: '"connections"',
  Member: '"members"',
  Group: '"groups"',
  Membership: '"memberships"',
};

class Compiler {
  #aliases = 0;
  /** The viewer's one tenant, or null for an admin. */
  readonly scope: string | null;
  /** The same as graphql/filters.ts takes it. */
  readonly tenants: Scope;
  /** A viewer of several tenants (a token's): the resolvers answer it, this compiles nothing. */
  readonly several: boolean;
  readonly guards: string[] = [];
  readonly statement = new Statement();

  constructor(
    readonly selection: SelectionContext,
    readonly viewer: Viewer,
    readonly publicRaw: PublicRaw,
  ) {
    const tenant = viewerTenant(viewer);
    this.several = tenant === undefined;
    // Never broader than the viewer: for several tenants (not compiled), just the first.
    this.scope = tenant === undefined ? (viewer as { tenantId: string }).tenantId : tenant;
    this.tenants = this.scope === null ? null : [this.scope];
  }

  alias(): string {
    return `r${this.#aliases++}`;
  }

  objectType(name: string): GraphQLObjectType {
    const type = this.selection.schema.getType(name);
    if (!isObjectType(type)) throw new NotCompiled(`no object type ${name}`);
    return type;
  }

  fields(type: GraphQLObjectType, selections: readonly SelectionSetNode[]) {
    return collectFields(this.selection, type, selections);
  }

  /** The field's arguments as graphql-js would pass them to its resolver. */
  args(parent: GraphQLObjectType, node: FieldNode): Record<string, unknown> {
    const field: GraphQLField<unknown, unknown> | undefined = parent.getFields()[node.name.value];
    if (!field) throw new NotCompiled(`no field ${parent.name}.${node.name.value}`);
    return getArgumentValues(field, node, this.selection.variables);
  }

  /** The type a field's value is of, with lists and non-null taken off. */
  fieldType(parent: GraphQLObjectType, node: FieldNode): GraphQLObjectType {
    const type = getNamedType(parent.getFields()[node.name.value]?.type);
    if (!isObjectType(type)) throw new NotCompiled(`${parent.name}.${node.name.value} is not an object`);
    return type;
  }
}

const column = (alias: string, col: PgColumn) => `${alias}."${col.name}"`;
/** A column of the table a list reads, as its conditions (graphql/filters.ts) name it. */
const own = (table: EntityType, col: PgColumn) => `${TABLE_NAMES[table]}."${col.name}"`;

// ---- objects ----------------------------------------------------------------------------------

/** The JSON of the entity row `alias` (an alias in scope) for these selections. */
function entityJson(c: Compiler, type: EntityType, alias: string, selections: readonly SelectionSetNode[]): string {
  const objectType = c.objectType(type);
  const entries: [string, string][] = [];
  for (const [key, nodes] of c.fields(objectType, selections)) {
    entries.push([key, entityField(c, type, objectType, alias, nodes)]);
  }
  return jsonObject(entries);
}

function entityField(c: Compiler, type: EntityType, objectType: GraphQLObjectType, alias: string, nodes: FieldNode[]): string {
  const node = nodes[0] as FieldNode;
  const name = node.name.value;
  const table: EntityTable = TABLES[type];
  const col = (x: PgColumn) => column(alias, x);
  const selections = subSelections(nodes);
  switch (name) {
    case '__typename':
      return text(type);
    case 'id':
      return globalIdSql(type, col(table.id));
    case 'provider':
      return col(table.provider);
    case 'externalId':
      return col(table.externalId);
    case 'createdAt':
      return dateTimeSql(col(table.createdAt));
    case 'updatedAt':
      return dateTimeSql(col(table.updatedAt));
    case 'deletedAt':
      return dateTimeSql(col(table.deletedAt));
    case 'raw':
      return c.viewer.kind === 'admin' ? col(table.raw) : publicRawSql(c, type, col(table.provider), col(table.raw));
    case 'tenant':
      if (type === 'Tenant') break;
      return rowLookup(c, 'Tenant', col((table as typeof members).tenantId), selections);
  }
  switch (type) {
    case 'Tenant':
      switch (name) {
        case 'name':
          return col(tenants.name);
        case 'slug':
          return col(tenants.slug);
        case 'product':
          return col(tenants.product);
        case 'connections':
        case 'members':
        case 'groups': {
          const listType = name === 'connections' ? 'Connection' : name === 'members' ? 'Member' : 'Group';
          const listTable = TABLES[listType];
          const args = c.args(objectType, node);
          const parent = `${own(listType, listTable.tenantId)} = ${col(tenants.id)}`;
          return connectionJson(c, c.fieldType(objectType, node), selections, {
            type: listType,
            ...listWindow(listTable, args as ListArgs),
            conditions: [...listConditions(c, listType, args), ...tenantScope(listTable, c.tenants), parent],
            ...(listType === 'Member' ? { statusCounts: () => [...statusCountConditions(c, args), ...tenantScope(listTable, c.tenants), parent] } : {}),
          });
        }
      }
      break;
    case 'Connection':
      switch (name) {
        case 'kind':
          return col(connections.kind);
        case 'status':
          return `case when ${col(connections.deletedAt)} is not null then 'DELETED' else ${col(connections.status)} end`;
        case 'name':
          return col(connections.name);
      }
      break;
    case 'Member':
      switch (name) {
        case 'email':
          return col(members.email);
        case 'name':
          return col(members.name);
        case 'firstName':
          return col(members.firstName);
        case 'lastName':
          return col(members.lastName);
        case 'status':
          return `case when ${col(members.deletedAt)} is not null then 'DELETED' else ${col(members.status)} end`;
        case 'roles':
          return col(members.roles);
        case 'appRole':
          return c.statement.fragment(
            appRoleSql({ id: sql.raw(col(members.id)), tenantId: sql.raw(col(members.tenantId)), deletedAt: sql.raw(col(members.deletedAt)) }),
          );
        case 'directory':
          return rowLookup(c, 'Connection', col(members.connectionId), selections);
        case 'groups': {
          const args = c.args(objectType, node);
          const filter = args.filter as GroupFilter | null | undefined;
          return connectionJson(c, c.fieldType(objectType, node), selections, {
            type: 'Group',
            ...listWindow(groups, args as ListArgs),
            conditions: [
              ...groupConditions(filter, c.tenants),
              ...tenantScope(groups, c.tenants),
              groupOfMemberRow({ id: sql.raw(col(members.id)), deletedAt: sql.raw(col(members.deletedAt)) }, filter?.includeDeleted),
            ],
          });
        }
      }
      break;
    case 'Group':
      switch (name) {
        case 'name':
          return col(groups.name);
        case 'directory':
          return rowLookup(c, 'Connection', col(groups.connectionId), selections);
        case 'members': {
          const args = c.args(objectType, node);
          const filter = args.filter as MemberFilter | null | undefined;
          const parent = memberOfGroupRow({ id: sql.raw(col(groups.id)), deletedAt: sql.raw(col(groups.deletedAt)) }, filter?.includeDeleted);
          return connectionJson(c, c.fieldType(objectType, node), selections, {
            type: 'Member',
            ...listWindow(members, args as ListArgs),
            conditions: [...memberConditions(filter, c.tenants), ...tenantScope(members, c.tenants), parent],
            statusCounts: () => [...statusCountConditions(c, args), ...tenantScope(members, c.tenants), parent],
          });
        }
        case 'memberCount': {
          const live = [
            ...memberConditions(undefined, c.tenants),
            ...tenantScope(members, c.tenants),
            memberOfGroupRow({ id: sql.raw(col(groups.id)), deletedAt: sql.raw(col(groups.deletedAt)) }),
          ];
          return `(select count(*)::int from "members" where ${c.statement.where(live)})`;
        }
      }
      break;
    case 'Membership':
      switch (name) {
        case 'group':
          return rowLookup(c, 'Group', col(memberships.groupId), selections);
        case 'member':
          return rowLookup(c, 'Member', col(memberships.memberId), selections);
      }
      break;
  }
  throw new NotCompiled(`${type}.${name}`);
}

/**
 * What a tenant viewer sees of `raw`: the allow-list of the provider that sent the row, picked
 * by dsync_pick (src/lib/pick.ts in SQL, drizzle/0009_read_path.sql); null for a provider with
 * no adapter here.
 */
function publicRawSql(c: Compiler, type: EntityType, provider: string, raw: string): string {
  const entity = type.toUpperCase() as EntityKind;
  const cases = PROVIDERS.flatMap((p) => {
    const shape = c.publicRaw.shape(p, entity);
    return shape ? [`when '${p}' then dsync_pick(${raw}, ${c.statement.p(JSON.stringify(shape), 'json')})`] : [];
  });
  return cases.length ? `case ${provider} ${cases.join(' ')} else null end` : 'null::json';
}

/**
 * The object of type `type` whose id is `id`, or null when there is none or the viewer may not
 * see it (graphql/scope.ts: a tenant viewer sees its own tenant's rows; rows of no tenant are
 * admin-only). Deleted rows are found: a reference or an id names them whatever their state.
 */
function rowLookup(c: Compiler, type: EntityType, id: string, selections: readonly SelectionSetNode[]): string {
  const a = c.alias();
  const table = TABLES[type];
  const tenantOf = type === 'Tenant' ? column(a, tenants.id) : column(a, (table as typeof members).tenantId);
  const visible = c.scope === null ? '' : ` and ${tenantOf} = ${c.statement.p(c.scope, 'uuid')}`;
  return `(select ${entityJson(c, type, a, selections)} from ${TABLE_NAMES[type]} as ${a} where ${column(a, table.id)} = ${id}${visible})`;
}

// ---- lists ------------------------------------------------------------------------------------

interface ListSource {
  type: ListType;
  /** Filters, the viewer's scope and the parent, ANDed, over the list's table as named. */
  conditions: (string | SQL)[];
  order: ListOrder;
  window: PageWindow<Position>;
  /** A member list's conditions for countsByStatus: as `conditions`, its filter's status left out. */
  statusCounts?: () => (string | SQL)[];
}

/** A member list's filter without its status, as countsByStatus counts (graphql/filters.ts). */
const statusCountConditions = (c: Compiler, args: Record<string, unknown>): SQL[] =>
  memberConditions(withoutStatus(args.filter as MemberFilter | null | undefined), c.tenants);

function listConditions(c: Compiler, type: ListType, args: Record<string, unknown>): SQL[] {
  switch (type) {
    case 'Tenant':
      return tenantConditions(args.filter as TenantFilter | null | undefined);
    case 'Connection':
      return connectionConditions(args.filter as ConnectionFilter | null | undefined);
    case 'Member':
      return memberConditions(args.filter as MemberFilter | null | undefined, c.tenants);
    case 'Group':
      return groupConditions(args.filter as GroupFilter | null | undefined, c.tenants);
  }
}

/**
 * A Relay connection (graphql/pages.ts's semantics, in SQL): up to size+1 rows read in the
 * window's direction from the cursor (the extra one says there is more), numbered; the edges
 * are the first `size` of them in display order; pageInfo's far side is an EXISTS beyond the
 * cursor the page started from; totalCount counts the conditions without the window.
 */
function connectionJson(c: Compiler, connectionType: GraphQLObjectType, selections: readonly SelectionSetNode[], source: ListSource): string {
  const { type, window, order } = source;
  const table: ListTable = TABLES[type];
  const name = TABLE_NAMES[type];
  const s = c.statement;
  // The conditions are rendered once and repeated (the count and pageInfo reuse them).
  const conditions = s.where(source.conditions);
  const r = c.alias();
  const R = (x: PgColumn) => column(r, x);
  const bounds: string[] = [];
  if (window.after) bounds.push(s.fragment(beyondPosition(order, window.after)));
  if (window.before) bounds.push(s.fragment(beyondPosition(order, window.before, true)));
  const forward = window.direction === 'forward';
  // A literal, not a parameter: validated (0 to 100), and the planner needs it to plan the LIMIT.
  const size = String(window.size);
  const fields = c.fields(connectionType, selections);
  // The extra row that says there is more is read only when pageInfo asks; without it the page
  // is `limit size`, every row shown, and nothing is numbered.
  const readsExtra = [...fields.values()].some(
    (nodes) =>
      (nodes[0] as FieldNode).name.value === 'pageInfo' &&
      [...c.fields(c.fieldType(connectionType, nodes[0] as FieldNode), subSelections(nodes)).values()].some(
        (info) => (info[0] as FieldNode).name.value === (forward ? 'hasNextPage' : 'hasPreviousPage'),
      ),
  );
  const shown = readsExtra ? ` filter (where ${r}.__n <= ${size})` : '';
  const display = orderByText(order, false, R);
  const displayDesc = orderByText(order, true, R);
  const cursor = order.custom ? orderedCursorSql(order, R) : rowCursorSql(R(table.createdAt), R(table.id));
  // The first shown row's position in this order, encoded once (not a cursor per row, then one
  // kept); an orderBy's cursor has more parts, and is encoded per row instead.
  const first = (by: string, x: PgColumn) => `(array_agg(${R(x)} order by ${by})${shown})[1]`;
  // No row shown: null, as `||` with null is.
  const endCursor = (by: string) =>
    order.custom ? `(array_agg(${cursor} order by ${by})${shown})[1]` : rowCursorSql(first(by, table.createdAt), first(by, table.id));
  // At or before the page's start (`after`), at or after its end (`before`): "not beyond" it.
  const beyond = (bound: Position | undefined, reverse: boolean) =>
    bound ? `exists (select 1 from ${name} where ${conditions} and not ${s.fragment(beyondPosition(order, bound, reverse))})` : 'false';
  // The page's rows are read only for what aggregates them (edges, cursors, "is there more"):
  // without one the statement over them would have a row per row, or none for an empty page.
  let readsRows = false;
  const aggregate = (expression: string) => {
    readsRows = true;
    return expression;
  };
  const more = () => aggregate(`count(*) > ${size}`);

  const entries: [string, string][] = [];
  for (const [key, nodes] of fields) {
    const node = nodes[0] as FieldNode;
    switch (node.name.value) {
      case '__typename':
        entries.push([key, text(connectionType.name)]);
        break;
      case 'totalCount':
        entries.push([key, `(select count(*)::int from ${name} where ${conditions})`]);
        break;
      case 'countsByStatus':
        if (!source.statusCounts) throw new NotCompiled(`${connectionType.name}.countsByStatus`);
        {
          const countType = c.fieldType(connectionType, node);
          const item: [string, string][] = [];
          for (const [itemKey, itemNodes] of c.fields(countType, subSelections(nodes))) {
            const itemField = (itemNodes[0] as FieldNode).name.value;
            if (itemField === '__typename') item.push([itemKey, text(countType.name)]);
            else if (itemField === 'status') item.push([itemKey, 'x.s']);
            else if (itemField === 'count') item.push([itemKey, 'x.n']);
            else throw new NotCompiled(`${countType.name}.${itemField}`);
          }
          entries.push([key, statusCountsSql(s.where(source.statusCounts()), jsonObject(item))]);
        }
        break;
      case 'edges': {
        const edgeType = c.fieldType(connectionType, node);
        const edge: [string, string][] = [];
        for (const [edgeKey, edgeNodes] of c.fields(edgeType, subSelections(nodes))) {
          const edgeField = (edgeNodes[0] as FieldNode).name.value;
          if (edgeField === '__typename') edge.push([edgeKey, text(edgeType.name)]);
          else if (edgeField === 'cursor') edge.push([edgeKey, cursor]);
          else if (edgeField === 'node') edge.push([edgeKey, entityJson(c, type, r, subSelections(edgeNodes))]);
          else throw new NotCompiled(`${edgeType.name}.${edgeField}`);
        }
        entries.push([key, aggregate(`coalesce(json_agg(${jsonObject(edge)} order by ${display})${shown}, '[]'::json)`)]);
        break;
      }
      case 'pageInfo': {
        const info: [string, string][] = [];
        for (const [infoKey, infoNodes] of c.fields(c.fieldType(connectionType, node), subSelections(nodes))) {
          switch ((infoNodes[0] as FieldNode).name.value) {
            case '__typename':
              info.push([infoKey, text('PageInfo')]);
              break;
            case 'hasNextPage':
              info.push([infoKey, forward ? more() : beyond(window.before, true)]);
              break;
            case 'hasPreviousPage':
              info.push([infoKey, forward ? beyond(window.after, false) : more()]);
              break;
            case 'startCursor':
              info.push([infoKey, aggregate(endCursor(display))]);
              break;
            case 'endCursor':
              info.push([infoKey, aggregate(endCursor(displayDesc))]);
              break;
            default:
              throw new NotCompiled(`PageInfo.${(infoNodes[0] as FieldNode).name.value}`);
          }
        }
        entries.push([key, jsonObject(info)]);
        break;
      }
      default:
        throw new NotCompiled(`${connectionType.name}.${node.name.value}`);
    }
  }
  const object = jsonObject(entries);
  if (!readsRows) return object;
  const reading = orderByText(order, !forward, (x) => own(type, x));
  const where = bounds.length ? `${conditions} and ${bounds.join(' and ')}` : conditions;
  const rows = readsExtra
    ? `select ${name}.*, row_number() over (order by ${reading}) as __n from ${name} where ${where} order by ${reading} limit ${size} + 1`
    : `select ${name}.* from ${name} where ${where} order by ${reading} limit ${size}`;
  return `(select ${object} from (${rows}) as ${r})`;
}

// ---- root fields ------------------------------------------------------------------------------

/**
 * The list's tenant, as graphql/scope.ts's listTenant decides it: a tenant viewer's own
 * (another tenant is the resolver's NOT_FOUND, left to it), or an admin's `tenantId`, which
 * must exist (checked in the statement).
 */
function rootListTenant(c: Compiler, tenantId: unknown): string | null {
  if (tenantId === null || tenantId === undefined) return c.scope;
  const id = expectGlobalId(tenantId as string, 'Tenant', 'tenantId');
  if (id === c.scope) return id;
  if (c.scope !== null) throw new NotCompiled('another tenant: NOT_FOUND');
  c.guards.push(`exists (select 1 from "tenants" where "tenants"."id" = ${c.statement.p(id, 'uuid')})`);
  return id;
}

function rootField(c: Compiler, query: GraphQLObjectType, nodes: FieldNode[]): string {
  const node = nodes[0] as FieldNode;
  const selections = subSelections(nodes);
  const name = node.name.value;
  switch (name) {
    case '__typename':
      // Every column is JSON text; a bare text value would lose its quotes.
      return `to_json(${text(query.name)})`;
    case 'node': {
      const parsed = parseGlobalId(c.args(query, node).id as string);
      if (!parsed) throw new NotCompiled('not an id: BAD_USER_INPUT');
      if (parsed.type === 'Delivery' || parsed.type === 'ReconcileRun') throw new NotCompiled(`${parsed.type} nodes`);
      return rowLookup(c, parsed.type, c.statement.p(parsed.id, 'uuid'), selections);
    }
    case 'tenant': {
      const id = expectGlobalId(c.args(query, node).id as string, 'Tenant', 'id');
      return rowLookup(c, 'Tenant', c.statement.p(id, 'uuid'), selections);
    }
    case 'tenants':
    case 'connections':
    case 'members':
    case 'groups': {
      const type: ListType = name === 'tenants' ? 'Tenant' : name === 'connections' ? 'Connection' : name === 'members' ? 'Member' : 'Group';
      const args = c.args(query, node);
      const table = TABLES[type];
      const ordered = listWindow(table, args as ListArgs);
      const tenant = type === 'Tenant' ? c.scope : rootListTenant(c, args.tenantId);
      return connectionJson(c, c.fieldType(query, node), selections, {
        type,
        ...ordered,
        conditions: [...listConditions(c, type, args), ...tenantScope(table, tenant === null ? null : [tenant])],
        ...(type === 'Member' ? { statusCounts: () => [...statusCountConditions(c, args), ...tenantScope(table, tenant === null ? null : [tenant])] } : {}),
      });
    }
    case 'viewer': {
      const viewerType = c.fieldType(query, node);
      const entries: [string, string][] = [];
      for (const [key, viewerNodes] of c.fields(viewerType, selections)) {
        switch ((viewerNodes[0] as FieldNode).name.value) {
          case '__typename':
            entries.push([key, text(viewerType.name)]);
            break;
          case 'role':
            entries.push([key, text(c.viewer.kind === 'admin' ? 'ADMIN' : 'TENANT')]);
            break;
          case 'name':
            entries.push([key, c.statement.p(c.viewer.name, 'text')]);
            break;
          case 'tenant':
            entries.push([
              key,
              c.scope === null ? 'null::json' : rowLookup(c, 'Tenant', c.statement.p(c.scope, 'uuid'), subSelections(viewerNodes)),
            ]);
            break;
          default:
            throw new NotCompiled(`Viewer.${(viewerNodes[0] as FieldNode).name.value}`);
        }
      }
      return jsonObject(entries);
    }
  }
  throw new NotCompiled(`Query.${name}`);
}

/** A root response key: compiled into the statement (its column), or left to the resolvers. */
export type RootKey = { key: string; column: string } | { key: string; fields: FieldNode[]; reason: string };

export interface ReadPlan {
  keys: RootKey[];
  /** Columns `ok` (the guards held) and one text column of JSON per compiled key; null when none compiled. */
  statement: SQL | null;
}

/** Whether an error means "this root field is the resolvers'", not a fault of the compiler. */
const leaveToResolvers = (error: unknown) => error instanceof NotCompiled || error instanceof GraphQLError || error instanceof TooManyKeys;

/** Compiles a query operation's root selection (`selectionSet` of the operation). */
export function compileQuery(
  selection: SelectionContext,
  rootSelection: SelectionSetNode,
  who: { viewer: Viewer; publicRaw: PublicRaw },
): ReadPlan {
  const query = selection.schema.getQueryType();
  if (!query) return { keys: [], statement: null };
  const c = new Compiler(selection, who.viewer, who.publicRaw);
  const keys: RootKey[] = [];
  const columns: string[] = [];
  for (const [key, nodes] of c.fields(query, [rootSelection])) {
    if (c.several) {
      keys.push({ key, fields: nodes, reason: 'a viewer of several tenants' });
      continue;
    }
    const guards = c.guards.length;
    try {
      const json = rootField(c, query, nodes);
      const name = `c${columns.length}`;
      columns.push(`(${json})::text as ${name}`);
      keys.push({ key, column: name });
    } catch (error) {
      if (!leaveToResolvers(error)) throw error;
      // Its parameters stay behind unused: the statement takes only those its text names.
      c.guards.length = guards;
      keys.push({ key, fields: nodes, reason: (error as Error).message });
    }
  }
  if (columns.length === 0) return { keys, statement: null };
  const ok = c.guards.length ? c.guards.join(' and ') : 'true';
  return { keys, statement: c.statement.toSql(`select ${ok} as ok, ${columns.join(', ')}`) };
}
