// Tenant isolation: a key for tenant A, aimed at every root field, nested field and node(id)
// of tenant B's rows, gets nothing, not even when B's ids are passed in directly. And no
// payload secret appears in any response. All of it twice: with a tenant API key, and with a
// frontend's sign-in token (JWT) whose claim names tenant A.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { gql, startTestServer, tenantKey, type GraphQLReply, type TestServer } from '../support/server.js';
import { hmacSignIn, newPayloadSecret } from '../support/sign.js';
import { sql } from 'drizzle-orm';
import { budget } from '../support/time.js';

let server: TestServer;
let a: SeededOrg;
let b: SeededOrg;
let keyA: string;
let jwtA: string;
const signIn = hmacSignIn();
const secrets = [newPayloadSecret(), newPayloadSecret()];
/** Global ids of every row of B, by type. */
const bIds: Record<string, string[]> = {};
const replies: GraphQLReply[] = [];

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64url');

beforeAll(async () => {
  // One query asks for every list at every level at once, far past the default query limits.
  server = await startTestServer({
    env: { GRAPHQL_MAX_DEPTH: '20', GRAPHQL_MAX_COST: '1000000000', ...signIn.env },
  });
  a = await seedStytchOrg(server, { members: 4, groups: 2, oidcSecret: secrets[0], name: 'Tenant A' });
  b = await seedStytchOrg(server, { members: 4, groups: 2, oidcSecret: secrets[1], name: 'Tenant B' });
  // A hostile (or buggy) event: a membership filed under A that puts A's member in B's group.
  await sendAll(server, [
    stytchEvent('scim_member_group', 'CREATE', `scim-member-group-cross-${a.tag}`, {
      member_group_id: `scim-member-group-cross-${a.tag}`,
      group_id: b.groupIds[0],
      member_id: a.memberIds[0],
      organization_id: a.organizationId,
    }),
  ]);
  keyA = await tenantKey(server, a.tenantUuid, 'tenant A');
  jwtA = await signIn.token({ dsync_tenant: `stytch:${a.organizationId}` }, 'someone at A');

  const tables = ['tenants', 'connections', 'members', 'groups', 'memberships'] as const;
  const types = { tenants: 'Tenant', connections: 'Connection', members: 'Member', groups: 'Group', memberships: 'Membership' };
  for (const table of tables) {
    const column = table === 'tenants' ? sql`id` : sql`tenant_id`;
    const rows = await query(server.database, sql`select id from ${sql.identifier(table)} where ${column} = ${b.tenantUuid}`);
    bIds[types[table]] = rows.map((r) => gid(types[table], r.id as string));
  }
  const deliveries = await query(server.database, sql`select id from deliveries`);
  bIds.Delivery = deliveries.map((r) => gid('Delivery', r.id as string));
  expect(bIds.Member).toHaveLength(4);
  expect(bIds.Membership?.length).toBeGreaterThan(0);
}, budget(120_000));
afterAll(() => server?.close());

/** Which credential of A's the queries use. */
let credentialOfA: () => string = () => keyA;

/** Runs a query with A's credential and keeps the reply for the leak scan at the end. */
async function asA(text: string, variables: Record<string, unknown> = {}): Promise<GraphQLReply> {
  const reply = await gql(server, text, variables, credentialOfA());
  replies.push(reply);
  return reply;
}

/** Nothing of B in this reply: none of its ids, external ids, emails or names. */
function expectNothingOfB(reply: GraphQLReply) {
  const needles = [
    b.tenantUuid,
    b.organizationId,
    b.name,
    b.samlConnectionId,
    b.oidcConnectionId,
    ...b.memberIds,
    ...b.emails,
    ...b.groupIds,
    ...b.groupNames,
    ...Object.values(bIds).flat().filter((id) => !bIds.Delivery?.includes(id)),
  ];
  for (const needle of needles) expect(reply.text, `leaked ${needle}`).not.toContain(needle);
}

const everything = `
  tenants(first: 100) { totalCount edges { node { id externalId name raw
    connections(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId name raw tenant { id } } } }
    members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId email raw
      directory { id } tenant { id } groups(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId name
        members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId email } } } } } } } } }
    groups(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId name raw
      members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId email groups(first: 100) { edges { node { externalId } } } } } } } } }
  } } }
  connections(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId tenant { externalId } } } }
  members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId email tenant { externalId }
    groups(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { externalId } } } } } }
  groups(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id externalId tenant { externalId }
    members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { externalId } } } } } }
  changes(first: 100) { totalCount edges { node { entity tenant { externalId } node { id
    ... on Membership { group { externalId } member { externalId } tenant { externalId } } } } } }
  viewer { role tenant { externalId } }
`;

describe.each(['API key', 'JWT'] as const)(`tenant isolation with A's %s (${backend})`, (credential) => {
  beforeAll(() => {
    credentialOfA = credential === 'JWT' ? () => jwtA : () => keyA;
  });

  it('every root list and nested list shows only A', async () => {
    const reply = await asA(`{ ${everything} }`);
    expect(reply.errors).toBeUndefined();
    expectNothingOfB(reply);
    const data = reply.data as Record<string, { totalCount: number; edges: { node: Record<string, unknown> }[] }>;
    expect(data.tenants?.totalCount).toBe(1);
    expect(data.members?.totalCount).toBe(4);
    expect(data.groups?.totalCount).toBe(2);
    // A's own rows are all there: the scan above is not passing because nothing came back.
    expect(reply.text).toContain(a.emails[0]);
    expect(reply.text).toContain(a.groupNames[1]);
    expect(data.changes?.totalCount).toBeGreaterThan(10);
  });

  it('the same query as admin does show B, and the cross-tenant membership', async () => {
    const reply = await gql(server, `{ ${everything} }`);
    expect(reply.text).toContain(b.emails[0]);
    expect(reply.text).toContain(b.groupNames[0]);
  });

  it.each(['Tenant', 'Connection', 'Member', 'Group', 'Membership', 'Delivery'])('node(id) of B\'s %s rows is null', async (type) => {
    const ids = bIds[type] ?? [];
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) {
      const reply = await asA(`query ($id: ID!) { node(id: $id) { id __typename } }`, { id });
      expect(reply.errors).toBeUndefined();
      expect(reply.data).toEqual({ node: null });
    }
  });

  it('tenant(id: B) is null; lists with tenantId B are NOT_FOUND', async () => {
    const tenantB = bIds.Tenant?.[0] as string;
    const one = await asA(`query ($id: ID!) { tenant(id: $id) { id name } }`, { id: tenantB });
    expect(one.data).toEqual({ tenant: null });
    for (const field of ['connections', 'members', 'groups', 'changes']) {
      const reply = await asA(`query ($t: ID!) { ${field}(tenantId: $t) { totalCount edges { cursor } } }`, { t: tenantB });
      expect(reply.errors?.[0]?.extensions?.code, field).toBe('NOT_FOUND');
      expect(reply.data, field).toBeNull();
      expectNothingOfB(reply);
    }
  });

  it("filters naming B's group or member find nothing", async () => {
    const reply = await asA(
      `query ($g: ID!, $m: ID!) {
        members(filter: { groupId: $g, includeDeleted: true }) { totalCount edges { node { email } } }
        groups(filter: { memberId: $m, includeDeleted: true }) { totalCount edges { node { name } } }
      }`,
      { g: bIds.Group?.[0], m: bIds.Member?.[0] },
    );
    expect(reply.data).toEqual({ members: { totalCount: 0, edges: [] }, groups: { totalCount: 0, edges: [] } });
  });

  it("the cross-tenant membership does not show B's group to A", async () => {
    const reply = await asA(`{ changes(first: 100) { edges { node { entity node { ... on Membership {
      externalId group { externalId } member { externalId } } } } } } }`);
    const cross = (reply.data as { changes: { edges: { node: { node: { externalId?: string; group: unknown; member: unknown } | null } }[] } })
      .changes.edges.map((e) => e.node.node)
      .find((n) => n?.externalId === `scim-member-group-cross-${a.tag}`);
    expect(cross).toEqual({ externalId: `scim-member-group-cross-${a.tag}`, group: null, member: { externalId: a.memberIds[0] } });
    expectNothingOfB(reply);
  });

  it('deliveries are admin-only', async () => {
    const reply = await asA('{ deliveries(first: 5) { edges { node { body } } } }');
    expect(reply.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(reply.data).toEqual({ deliveries: null });
  });

  it.runIf(credential === 'API key')('a revoked key stops working at once', async () => {
    const { revokeApiKey, createApiKey } = await import('../../src/auth/api-keys.js');
    const created = await createApiKey(server.database.db, { name: 'short-lived', tenantId: a.tenantUuid });
    expect((await gql(server, '{ viewer { role } }', {}, created.key)).status).toBe(200);
    await revokeApiKey(server.database.db, created.id);
    const reply = await gql(server, '{ viewer { role } }', {}, created.key);
    expect(reply.status).toBe(401);
    expect(reply.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('no payload secret in any response, raw and delivery bodies included', async () => {
    const admin = await gql(server, `{ ${everything} deliveries(first: 100) { edges { node { body outcomes } } } }`);
    for (const reply of [...replies, admin]) {
      for (const secret of secrets) expect(reply.text).not.toContain(secret);
    }
    expect(admin.text).toContain('[redacted]');
  });
});
