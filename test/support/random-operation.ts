// Random GraphQL operations over the whole query schema, for the read path's differential test:
// root lists, node and tenant lookups, nested lists three deep, every scalar, aliases, inline and
// named fragments, @include/@skip on variables, filters, page arguments (good and bad), cursors
// from real rows and forged ones, ids of every kind, and the root fields the compiler leaves to
// the resolvers. Arguments are written inline or as variables.
import fc from 'fast-check';
import { connections, groups, members } from '../../src/db/schema.js';
import { listCursor, listOrder, positionOfRow, type OrderArg, type OrderField } from '../../src/graphql/order.js';

/** Values worth asking for: real ids, cursors and texts of the seeded directory, and wrong ones. */
export interface Pools {
  /** Global ids by type (Tenant, Member, Group, Connection, Membership, Delivery). */
  ids: Record<string, string[]>;
  /** Row cursors of real rows by type, and under `other` a few that are not cursors at all. */
  cursors: Record<string, string[]>;
  /** Substrings of names and emails, and texts with LIKE's special characters. */
  /** Rows of the ordered lists (Drizzle's objects), for cursors of a list in an orderBy. */
  positions: Record<string, Record<string, unknown>[]>;
  searches: string[];
  emails: string[];
  externalIds: string[];
}

/** Draws one value (fast-check's fc.gen(), wrapped). */
export type Gen = (arb: fc.Arbitrary<unknown>) => unknown;

const SCALARS: Record<string, string[]> = {
  Tenant: ['id', 'provider', 'externalId', 'name', 'slug', 'product', 'createdAt', 'updatedAt', 'deletedAt', 'raw'],
  Connection: ['id', 'provider', 'externalId', 'kind', 'status', 'name', 'createdAt', 'updatedAt', 'deletedAt', 'raw'],
  Member: ['id', 'provider', 'externalId', 'email', 'name', 'firstName', 'lastName', 'status', 'roles', 'appRole', 'createdAt', 'updatedAt', 'deletedAt', 'raw'],
  Group: ['id', 'provider', 'externalId', 'name', 'memberCount', 'createdAt', 'updatedAt', 'deletedAt', 'raw'],
  Membership: ['id', 'provider', 'externalId', 'createdAt', 'updatedAt', 'deletedAt', 'raw'],
};

/** Object fields: a single object, or a list (a connection) of that type. */
const OBJECTS: Record<string, Record<string, { type: string; list: boolean }>> = {
  Tenant: {
    connections: { type: 'Connection', list: true },
    members: { type: 'Member', list: true },
    groups: { type: 'Group', list: true },
  },
  Connection: { tenant: { type: 'Tenant', list: false } },
  Member: {
    tenant: { type: 'Tenant', list: false },
    directory: { type: 'Connection', list: false },
    groups: { type: 'Group', list: true },
  },
  Group: {
    tenant: { type: 'Tenant', list: false },
    directory: { type: 'Connection', list: false },
    members: { type: 'Member', list: true },
  },
  Membership: {
    group: { type: 'Group', list: false },
    member: { type: 'Member', list: false },
    tenant: { type: 'Tenant', list: false },
  },
};

const FILTER_TYPES: Record<string, string> = { Tenant: 'TenantFilter', Connection: 'ConnectionFilter', Member: 'MemberFilter', Group: 'GroupFilter' };

/** The lists that take orderBy: their fields, input type and table. */
const ORDERS: Record<string, { fields: OrderField[]; input: string; table: typeof members | typeof groups | typeof connections }> = {
  Member: { fields: ['CREATED_AT', 'UPDATED_AT', 'NAME', 'EMAIL'], input: 'MemberOrder', table: members },
  Group: { fields: ['CREATED_AT', 'UPDATED_AT', 'NAME'], input: 'GroupOrder', table: groups },
  Connection: { fields: ['CREATED_AT', 'UPDATED_AT', 'NAME'], input: 'ConnectionOrder', table: connections },
};

/** An enum value, written bare in a literal (a string in a variable). */
class Enum {
  constructor(readonly value: string) {}
}

export interface Operation {
  query: string;
  variables: Record<string, unknown>;
}

export class OperationBuilder {
  readonly #fragments: string[] = [];
  readonly #definitions: string[] = [];
  readonly #variables: Record<string, unknown> = {};
  #names = 0;

  constructor(
    private readonly g: Gen,
    private readonly pools: Pools,
  ) {}

  // Unbiased: fast-check leans towards small integers, which would make every chance likelier.
  chance(p: number): boolean {
    return (this.g(fc.noBias(fc.integer({ min: 0, max: 999 }))) as number) < p * 1000;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.g(fc.noBias(fc.nat({ max: xs.length - 1 }))) as number] as T;
  }

  some<T>(xs: readonly T[], min: number, max: number): T[] {
    return this.g(fc.shuffledSubarray([...xs], { minLength: Math.min(min, xs.length), maxLength: Math.min(max, xs.length) })) as T[];
  }

  name(prefix: string): string {
    return `${prefix}${this.#names++}`;
  }

  /** A value as GraphQL source: inline, or now and then a variable of `type`. */
  value(value: unknown, type: string): string {
    if (value !== null && this.chance(0.25)) {
      const name = this.name('v');
      this.#definitions.push(`$${name}: ${type}`);
      this.#variables[name] = plain(value);
      return `$${name}`;
    }
    return literal(value);
  }

  /** `@include`/`@skip` now and then, on a variable or a literal, either way. */
  directive(): string {
    if (!this.chance(0.15)) return '';
    const on = this.chance(0.5);
    const which = this.chance(0.5) ? 'include' : 'skip';
    const name = this.name('d');
    if (this.chance(0.5)) return ` @${which}(if: ${on})`;
    this.#definitions.push(`$${name}: Boolean!`);
    this.#variables[name] = on;
    return ` @${which}(if: $${name})`;
  }

  id(type: string): string {
    const pool = this.pools.ids[type] ?? [];
    return pool.length ? this.pick(pool) : 'none';
  }

  anyId(): string {
    if (this.chance(0.05)) return this.pick(['nope', 'VGVuYW50Om5vcGU', '', 'x'.repeat(120)]);
    return this.id(this.pick(Object.keys(this.pools.ids)));
  }

  /**
   * Mostly a row of the list's own type in the list's order (so a bound falls among its rows),
   * now and then with its name moved off every row's or missing; else anything.
   */
  cursor(type: string, orderBy?: OrderArg[]): string {
    const order = ORDERS[type];
    const rows = this.pools.positions[type] ?? [];
    const distinct = new Set(orderBy?.map((o) => o.field)).size === orderBy?.length;
    if (orderBy && distinct && order && rows.length && this.chance(0.8)) {
      const row = { ...this.pick(rows) };
      if (this.chance(0.15)) row.name = this.pick([null, `${String(row.name ?? '')}~`, '', 'M']);
      const list = listOrder(order.table, orderBy);
      return listCursor(list, positionOfRow(list, row));
    }
    const own = this.pools.cursors[type] ?? [];
    if (own.length && this.chance(0.8)) return this.pick(own);
    return this.pick(Object.values(this.pools.cursors).flat());
  }

  /** orderBy now and then: one or two fields (rarely one twice, which the resolvers refuse). */
  orderBy(type: string): OrderArg[] | undefined {
    const order = ORDERS[type];
    if (!order || !this.chance(0.35)) return undefined;
    const fields = this.some(order.fields, 1, 2);
    if (this.chance(0.03)) fields.push(fields[0] as OrderField);
    return fields.map((field) => ({ field, direction: this.pick(['ASC', 'DESC'] as const) }));
  }

  pageArgs(type: string, orderBy?: OrderArg[]): string[] {
    // Mostly what clients send; now and then what the resolvers refuse (the answer must be theirs).
    const size = () => (this.chance(0.03) ? this.pick([101, -1]) : this.pick([0, 1, 2, 2, 3, 3, 5, 10, 100]));
    const args: string[] = [];
    const shape = this.chance(0.03) ? 'both' : this.pick(['none', 'first', 'first', 'first', 'last', 'last']);
    if (shape === 'first' || shape === 'both') args.push(`first: ${this.value(size(), 'Int')}`);
    if (shape === 'last' || shape === 'both') args.push(`last: ${this.value(size(), 'Int')}`);
    if (this.chance(0.35)) args.push(`after: ${this.value(this.cursor(type, orderBy), 'String')}`);
    if (this.chance(0.25)) args.push(`before: ${this.value(this.cursor(type, orderBy), 'String')}`);
    if (orderBy) {
      const value = orderBy.map((o) => ({ field: new Enum(o.field), ...(o.direction === 'ASC' && this.chance(0.5) ? {} : { direction: new Enum(o.direction as string) }) }));
      // A list argument also takes a single value (GraphQL's input coercion).
      args.push(`orderBy: ${this.value(value.length === 1 && this.chance(0.3) ? value[0] : value, `[${ORDERS[type]?.input}!]`)}`);
    }
    return args;
  }

  filter(type: string): string | undefined {
    if (!this.chance(0.45)) return undefined;
    const fields: Record<string, () => unknown> = {
      includeDeleted: () => this.chance(0.6),
      search: () => this.pick(this.pools.searches),
      externalId: () => this.pick(this.pools.externalIds),
    };
    if (type === 'Tenant') fields.provider = () => new Enum(this.pick(['STYTCH', 'POLIS', 'WORKOS']));
    if (type === 'Connection') {
      fields.kind = () => new Enum(this.pick(['SAML', 'OIDC', 'DIRECTORY']));
      fields.status = () => new Enum(this.pick(['ACTIVE', 'INACTIVE', 'PENDING', 'DELETED']));
    }
    if (type === 'Member') {
      fields.status = () => new Enum(this.pick(['ACTIVE', 'INACTIVE', 'INVITED', 'PENDING', 'DELETED']));
      fields.email = () => {
        const email = this.pick(this.pools.emails);
        return this.chance(0.3) ? email.toUpperCase() : email;
      };
      fields.groupId = () => (this.chance(0.85) ? this.id('Group') : this.anyId());
      fields.appRole = () => this.pick(['admin', 'editor', 'viewer', 'none']);
    }
    if (type === 'Group') fields.memberId = () => (this.chance(0.85) ? this.id('Member') : this.anyId());
    const chosen = this.some(Object.keys(fields), 1, 3);
    const value = Object.fromEntries(chosen.map((k) => [k, (fields[k] as () => unknown)()]));
    return `filter: ${this.value(value, FILTER_TYPES[type] as string)}`;
  }

  /** A connection's selection: edges (cursor, node), pageInfo, totalCount, __typename. */
  connection(type: string, depth: number): string {
    const parts: string[] = [];
    const choices = this.some(['edges', 'edges', 'pageInfo', 'totalCount', '__typename', ...(type === 'Member' ? ['countsByStatus'] : [])], 1, 4);
    for (const choice of new Set(choices)) {
      const alias = this.chance(0.1) ? `${this.name('k')}: ` : '';
      if (choice === 'edges') {
        const inner = this.some(['cursor', 'node', 'node', '__typename'], 1, 3);
        const edge = [...new Set(inner)].map((f) => (f === 'node' ? `node ${this.selection(type, depth + 1)}` : f));
        parts.push(`${alias}edges${this.directive()} { ${edge.join(' ')} }`);
      } else if (choice === 'pageInfo') {
        const info = this.some(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename'], 1, 5);
        parts.push(`${alias}pageInfo { ${info.join(' ')} }`);
      } else if (choice === 'countsByStatus') {
        parts.push(`${alias}countsByStatus { ${this.some(['status', 'count', '__typename'], 1, 3).join(' ')} }`);
      } else {
        parts.push(`${alias}${choice}`);
      }
    }
    return `{ ${parts.join(' ')} }`;
  }

  list(type: string, depth: number, extra: string[] = []): string {
    const args = [...extra, ...this.pageArgs(type, this.orderBy(type))];
    const filter = this.filter(type);
    if (filter) args.push(filter);
    return `${args.length ? `(${args.join(', ')})` : ''}${this.directive()} ${this.connection(type, depth)}`;
  }

  /** A selection set on an entity type; lists stop at depth 3. */
  selection(type: string, depth: number): string {
    const scalars = this.some(SCALARS[type] as string[], 1, 5);
    const parts: string[] = scalars.map((f) => (this.chance(0.1) ? `${this.name('a')}: ${f}` : f) + this.directive());
    if (this.chance(0.2)) parts.push('__typename');
    for (const [field, target] of Object.entries(OBJECTS[type] ?? {})) {
      if (target.list && depth >= 3) continue;
      if (!this.chance(target.list ? 0.3 : 0.25)) continue;
      const alias = this.chance(0.15) ? `${this.name('a')}: ` : '';
      parts.push(target.list ? `${alias}${field}${this.list(target.type, depth)}` : `${alias}${field}${this.directive()} ${this.selection(target.type, depth + 1)}`);
    }
    if (this.chance(0.2)) {
      // Part of it through a fragment: inline, or named and spread.
      const moved = parts.splice(0, Math.max(1, Math.floor(parts.length / 2)));
      if (this.chance(0.5)) parts.push(`... on ${type}${this.directive()} { ${moved.join(' ')} }`);
      else {
        const name = this.name('F');
        this.#fragments.push(`fragment ${name} on ${type} { ${moved.join(' ')} }`);
        parts.push(`...${name}${this.directive()}`);
      }
    }
    return `{ ${parts.join(' ')} }`;
  }

  /** `node(id:)` asks through the Node interface: each type's fields in its own fragment. */
  node(): string {
    const id = this.chance(0.9) ? this.anyId() : this.id('Delivery');
    const parts = ['__typename', 'id'].filter(() => this.chance(0.6));
    for (const type of this.some(Object.keys(SCALARS), 1, 3)) parts.push(`... on ${type} ${this.selection(type, 1)}`);
    if (this.chance(0.1)) parts.push('... on Delivery { source status }');
    return `node(id: ${this.value(id, 'ID!')}) { ${parts.join(' ')} }`;
  }

  root(): string {
    const kind = this.pick(['members', 'members', 'groups', 'connections', 'tenants', 'node', 'node', 'tenant', 'viewer', 'typename', 'changes']);
    const alias = this.chance(0.2) ? `${this.name('r')}: ` : '';
    switch (kind) {
      case 'members':
      case 'groups':
      case 'connections': {
        const type = kind === 'members' ? 'Member' : kind === 'groups' ? 'Group' : 'Connection';
        const extra = this.chance(0.4) ? [`tenantId: ${this.value(this.chance(0.85) ? this.id('Tenant') : this.anyId(), 'ID')}`] : [];
        return `${alias}${kind}${this.list(type, 1, extra)}`;
      }
      case 'tenants':
        return `${alias}tenants${this.list('Tenant', 1)}`;
      case 'node':
        return `${alias}${this.node()}`;
      case 'tenant':
        return `${alias}tenant(id: ${this.value(this.chance(0.85) ? this.id('Tenant') : this.anyId(), 'ID!')}) ${this.selection('Tenant', 1)}`;
      case 'viewer':
        return `${alias}viewer { role name${this.chance(0.7) ? ` tenant ${this.selection('Tenant', 1)}` : ''} }`;
      case 'typename':
        return `${alias}__typename`;
      default:
        // Left to the resolvers: answered beside the statement.
        return `${alias}changes(first: 2) { edges { cursor node { action entity } } pageInfo { hasNextPage } }`;
    }
  }

  operation(): Operation {
    const roots = Array.from({ length: this.pick([1, 1, 2, 3]) }, () => this.root());
    // A response key is asked once unaliased; repeats get aliases of their own.
    const seen = new Set<string>();
    const unique = roots.map((r) => {
      const key = /^(\w+)/.exec(r)?.[1] as string;
      if (!/^\w+:/.test(r)) {
        if (seen.has(key)) return `${this.name('r')}: ${r}`;
        seen.add(key);
      }
      return r;
    });
    const header = this.#definitions.length ? `query Q(${this.#definitions.join(', ')})` : 'query Q';
    return { query: `${header} { ${unique.join(' ')} }\n${this.#fragments.join('\n')}`, variables: this.#variables };
  }
}

function literal(value: unknown): string {
  if (value instanceof Enum) return value.value;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  return `{ ${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}: ${literal(v)}`).join(', ')} }`;
}

function plain(value: unknown): unknown {
  if (value instanceof Enum) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** An operation drawn from fast-check's fc.gen() value. */
export const randomOperation = (g: fc.GeneratorValue, pools: Pools): Operation =>
  new OperationBuilder((arb) => g(() => arb), pools).operation();
