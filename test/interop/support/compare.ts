// The directory two ways: as Polis holds it (its own list and get APIs) and as the service
// serves it (GraphQL, admin key), both in one shape so a test can compare them field by field.
//
// What Polis's state means is read the way RFC 7643 defines it, written here on its own (not
// with the service's readers): `active` a boolean or the strings "True"/"False"; roles a list of
// strings or of complex values `{value, display, ...}`, or one comma-separated string. Two facts
// of Polis are accounted for, both documented in docs/providers.md: a deleted user's memberships stay in
// Polis's store (it sends no event for them), and a membership naming a user Polis does not have
// is not a membership of anyone.
import type { Directory, Group, User } from '../../oracles/polis.js';
import { gqlData, type TestServer } from '../../support/server.js';
import type { Polis } from './polis.js';

export interface Scope {
  tenant: string;
  product: string;
}

export interface ConnectionState {
  externalId: string;
  kind: 'SAML' | 'OIDC' | 'DIRECTORY';
  status: string;
  name: string | null;
  tenant: string;
  product: string;
}

export interface MemberState {
  externalId: string;
  email: string | null;
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  status: string;
  roles: string[];
  tenant: string;
  product: string;
  directory: string;
  groups: string[];
}

export interface GroupState {
  externalId: string;
  name: string | null;
  tenant: string;
  product: string;
  directory: string;
  members: string[];
}

export interface DirectoryState {
  connections: ConnectionState[];
  members: MemberState[];
  groups: GroupState[];
}

const byId = <T extends { externalId: string }>(items: T[]) => [...items].sort((a, b) => a.externalId.localeCompare(b.externalId));
const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** RFC 7643 boolean, as SCIM clients send it (Entra ID: "True"/"False"). */
function isActive(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value === 'string') return value.trim().toLowerCase() !== 'false';
  return value !== false;
}

/** RFC 7643 multi-valued attribute of strings or complex values, or Polis's comma-split string. */
function roleNames(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const items: unknown[] = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [value];
  const names = items
    .map((item) => (item !== null && typeof item === 'object' ? (item as { value?: unknown }).value : item))
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return [...new Set(names)];
}

interface PageArgs {
  pageOffset: number;
  pageLimit: number;
  pageToken?: string;
}

/**
 * Everything a Polis list call holds, whatever its store: paged by token where the store gives
 * one, by offset otherwise, to a page with nothing new (a store that ignores the offset, as
 * DynamoDB's does, gave everything in its first page). Polis lowers the page to its own limit.
 */
async function pageAll<T>(read: (page: PageArgs) => Promise<{ data: T[] | null; pageToken?: string | undefined; error?: unknown }>, idOf: (item: T) => string): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let pageOffset = 0;
  let pageToken: string | undefined;
  for (;;) {
    const reply = await read({ pageOffset, pageLimit: 100, ...(pageToken ? { pageToken } : {}) });
    if (reply.error || reply.data === null) throw new Error(`Polis could not list: ${JSON.stringify(reply.error)}`);
    const fresh = reply.data.filter((item) => !seen.has(idOf(item)));
    if (fresh.length === 0) return items;
    for (const item of fresh) {
      seen.add(idOf(item));
      items.push(item);
    }
    pageOffset += reply.data.length;
    if (reply.pageToken) pageToken = reply.pageToken;
    else if (pageToken) return items;
  }
}

/**
 * Polis's own view of the scopes' SSO connections, directories, users, groups and memberships,
 * read whole through its controllers (its REST routes for a tenant's connections answer only a
 * page: see providers.md).
 */
export async function polisState(polis: Polis, scopes: Scope[]): Promise<DirectoryState> {
  const { connectionAPIController: sso, directorySyncController: dsync } = polis.jackson;
  const state: DirectoryState = { connections: [], members: [], groups: [] };
  for (const { tenant, product } of scopes) {
    const connections = await pageAll((page) => sso.getConnectionsByProduct({ product, ...page }), (c) => c.clientID);
    for (const c of connections.filter((c) => c.tenant === tenant)) {
      state.connections.push({
        externalId: c.clientID,
        kind: 'idpMetadata' in c ? 'SAML' : 'OIDC',
        status: c.deactivated ? 'INACTIVE' : 'ACTIVE',
        name: text(c.name),
        tenant,
        product,
      });
    }
    const directories: Directory[] = (await pageAll((page) => dsync.directories.filterBy({ product, ...page }), (d) => d.id)).filter((d) => d.tenant === tenant);
    for (const d of directories) {
      state.connections.push({
        externalId: d.id,
        kind: 'DIRECTORY',
        status: d.deactivated ? 'INACTIVE' : 'ACTIVE',
        name: text(d.name),
        tenant,
        product,
      });
      const users: User[] = await pageAll((page) => dsync.users.setTenantAndProduct(tenant, product).getAll({ directoryId: d.id, ...page }), (u) => u.id);
      const groups: Group[] = await pageAll((page) => dsync.groups.setTenantAndProduct(tenant, product).getAll({ directoryId: d.id, ...page }), (g) => g.id);
      const userIds = new Set(users.map((u) => u.id));
      const groupsOf = new Map<string, string[]>(users.map((u) => [u.id, []]));
      for (const g of groups) {
        const rows = await pageAll((page) => dsync.groups.setTenantAndProduct(tenant, product).getGroupMembers({ groupId: g.id, ...page }), (m) => m.user_id);
        const members = [...new Set(rows.map((r) => r.user_id))].filter((id) => userIds.has(id)).sort();
        for (const id of members) groupsOf.get(id)!.push(g.id);
        state.groups.push({ externalId: g.id, name: text(g.name), tenant, product, directory: d.id, members });
      }
      for (const u of users) {
        const firstName = text(u.first_name);
        const lastName = text(u.last_name);
        state.members.push({
          externalId: u.id,
          email: text(u.email),
          name: [firstName, lastName].filter(Boolean).join(' ') || null,
          firstName,
          lastName,
          status: isActive(u.active) ? 'ACTIVE' : 'INACTIVE',
          roles: roleNames(u.roles),
          tenant,
          product,
          directory: d.id,
          groups: groupsOf.get(u.id)!.sort(),
        });
      }
    }
  }
  return { connections: byId(state.connections), members: byId(state.members), groups: byId(state.groups) };
}

interface Page<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

async function everything<T>(server: TestServer, field: string, selection: string): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  for (;;) {
    const data: Record<string, Page<T>> = await gqlData(
      server,
      `query ($after: String) { ${field}(first: 100, after: $after) { edges { node { ${selection} } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    const page = data[field]!;
    items.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return items;
    after = page.pageInfo.endCursor;
  }
}

interface Scoped {
  provider: string;
  externalId: string;
  tenant: { externalId: string; product: string } | null;
}
const TENANT = 'provider externalId tenant { externalId product }';
const ids = (page: { edges: { node: { externalId: string } }[] }) => page.edges.map((e) => e.node.externalId).sort();

/**
 * What the service serves for the scopes, live objects only (lists leave deleted ones out by
 * default). Nested lists are read to 100, far above any scenario's size.
 */
export async function serviceState(server: TestServer, scopes: Scope[]): Promise<DirectoryState> {
  const inScope = (o: Scoped) =>
    o.provider === 'POLIS' && scopes.some((s) => s.tenant === o.tenant?.externalId && s.product === o.tenant?.product);
  type ConnectionNode = Scoped & { kind: ConnectionState['kind']; status: string; name: string | null };
  type MemberNode = Scoped &
    Omit<MemberState, 'tenant' | 'product' | 'directory' | 'groups'> & { directory: { externalId: string } | null; groups: Page<{ externalId: string }> };
  type GroupNode = Scoped & { name: string | null; directory: { externalId: string } | null; members: Page<{ externalId: string }> };
  const connections = await everything<ConnectionNode>(server, 'connections', `${TENANT} kind status name`);
  const members = await everything<MemberNode>(
    server,
    'members',
    `${TENANT} email name firstName lastName status roles directory { externalId }
     groups(first: 100) { edges { node { externalId } } pageInfo { hasNextPage endCursor } }`,
  );
  const groups = await everything<GroupNode>(
    server,
    'groups',
    `${TENANT} name directory { externalId } members(first: 100) { edges { node { externalId } } pageInfo { hasNextPage endCursor } }`,
  );
  const where = (o: Scoped) => ({ tenant: o.tenant!.externalId, product: o.tenant!.product });
  return {
    connections: byId(
      connections.filter(inScope).map((c) => ({ externalId: c.externalId, kind: c.kind, status: c.status, name: c.name, ...where(c) })),
    ),
    members: byId(
      members.filter(inScope).map((m) => ({
        externalId: m.externalId,
        email: m.email,
        name: m.name,
        firstName: m.firstName,
        lastName: m.lastName,
        status: m.status,
        roles: m.roles,
        ...where(m),
        directory: m.directory?.externalId ?? '(none)',
        groups: ids(m.groups),
      })),
    ),
    groups: byId(
      groups.filter(inScope).map((g) => ({
        externalId: g.externalId,
        name: g.name,
        ...where(g),
        directory: g.directory?.externalId ?? '(none)',
        members: ids(g.members),
      })),
    ),
  };
}
