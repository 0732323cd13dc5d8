// Tokens for several tenants (issue 34): a sign-in token whose tenant claim lists two of three
// tenants (A and C) reads exactly those two, in every root list, nested list, node(id), the
// change feed and subscriptions, over HTTP and WebSocket; B leaks nowhere, and naming B's
// tenantId is NOT_FOUND. A token naming a tenant this directory lacks is refused whole.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/graphql/ids.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { eventually, subscribe } from '../support/live.js';
import { gql, startTestServer, tenantKey, type GraphQLReply, type TestServer } from '../support/server.js';
import { hmacSignIn } from '../support/sign.js';

let server: TestServer;
let a: SeededOrg;
let b: SeededOrg;
let c: SeededOrg;
let token: string;
const signIn = hmacSignIn();
/** Global ids of B's rows, by type. */
const bIds: Record<string, string[]> = {};

beforeAll(async () => {
  server = await startTestServer({ env: { GRAPHQL_MAX_DEPTH: '20', GRAPHQL_MAX_COST: '1000000000', ...signIn.env } });
  [a, b, c] = await Promise.all([
    seedStytchOrg(server, { members: 3, groups: 2, name: 'Tenant A' }),
    seedStytchOrg(server, { members: 3, groups: 2, name: 'Tenant B' }),
    seedStytchOrg(server, { members: 2, groups: 1, name: 'Tenant C' }),
  ]);
  // A by its provider id, C by its global id: the forms a single tenant takes.
  token = await signIn.token({ dsync_tenant: [`stytch:${a.organizationId}`, toGlobalId('Tenant', c.tenantUuid)] }, 'reseller console');
  const types = { tenants: 'Tenant', connections: 'Connection', members: 'Member', groups: 'Group', memberships: 'Membership' } as const;
  for (const [table, type] of Object.entries(types)) {
    const column = table === 'tenants' ? sql`id` : sql`tenant_id`;
    const rows = await query(server.database, sql`select id from ${sql.identifier(table)} where ${column} = ${b.tenantUuid}`);
    bIds[type] = rows.map((r) => toGlobalId(type, r.id as string));
  }
});
afterAll(() => server?.close());

const asToken = (text: string, variables: Record<string, unknown> = {}) => gql(server, text, variables, token);

function expectNothingOfB(reply: GraphQLReply) {
  for (const needle of [b.tenantUuid, b.organizationId, b.name, ...b.memberIds, ...b.emails, ...b.groupIds, ...b.groupNames, ...Object.values(bIds).flat()]) {
    expect(reply.text, `leaked ${needle}`).not.toContain(needle);
  }
}

const everything = `
  tenants(first: 100) { totalCount edges { node { id name
    members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id email groups(first: 100) { totalCount edges { node { id name members(first: 100) { edges { node { email } } } } } } } } }
    groups(first: 100) { totalCount edges { node { id name } } } } } }
  connections(first: 100) { totalCount edges { node { id tenant { name } } } }
  members(first: 100, filter: { includeDeleted: true }) { totalCount edges { node { id email tenant { name } } } }
  groups(first: 100) { totalCount edges { node { id name members(first: 100) { totalCount edges { node { email } } } } } }
  changes(first: 100) { totalCount edges { node { entity tenant { name } node { id } } } }
  viewer { role tenant { name } tenants { name } }`;

describe(`a token for two of three tenants (${backend})`, () => {
  it('reads exactly those two in every root and nested list, and nothing of the third', async () => {
    const reply = await asToken(`{ ${everything} }`);
    expect(reply.errors, JSON.stringify(reply.errors)).toBeUndefined();
    expectNothingOfB(reply);
    const data = reply.data as Record<string, { totalCount: number }> & { viewer: { role: string; tenant: unknown; tenants: { name: string }[] } };
    expect(data.tenants?.totalCount).toBe(2);
    expect(data.members?.totalCount).toBe(5);
    expect(data.groups?.totalCount).toBe(3);
    expect(data.viewer).toEqual({ role: 'TENANT', tenant: null, tenants: expect.arrayContaining([{ name: 'Tenant A' }, { name: 'Tenant C' }]) });
    expect(data.viewer.tenants).toHaveLength(2);
    for (const email of [...a.emails, ...c.emails]) expect(reply.text).toContain(email);
    // The same query as admin does see B: the scan above is not passing for want of data.
    expect((await gql(server, `{ ${everything} }`)).text).toContain(b.emails[0]);
  });

  it('narrows to one of its tenants by tenantId; B is NOT_FOUND and its rows are null by id', async () => {
    const onlyC = await asToken('query ($t: ID!) { members(tenantId: $t) { totalCount edges { node { email } } } }', { t: toGlobalId('Tenant', c.tenantUuid) });
    expect((onlyC.data as { members: { edges: { node: { email: string } }[] } }).members.edges.map((e) => e.node.email).sort()).toEqual([...c.emails].sort());
    for (const field of ['connections', 'members', 'groups', 'changes']) {
      const reply = await asToken(`query ($t: ID!) { ${field}(tenantId: $t) { totalCount } }`, { t: bIds.Tenant![0] });
      expect(reply.errors?.[0]?.extensions?.code, field).toBe('NOT_FOUND');
    }
    for (const id of Object.values(bIds).flat()) {
      const reply = await asToken('query ($id: ID!) { node(id: $id) { id } }', { id });
      expect(reply.data).toEqual({ node: null });
    }
    const filtered = await asToken('query ($g: ID!, $m: ID!) { members(filter: { groupId: $g }) { totalCount } groups(filter: { memberId: $m }) { totalCount } }', {
      g: bIds.Group![0],
      m: bIds.Member![0],
    });
    expect(filtered.data).toEqual({ members: { totalCount: 0 }, groups: { totalCount: 0 } });
  });

  it('hears only its tenants live and in history, and is refused a subscription to B', async () => {
    const start = ((await asToken('{ changes(first: 100) { edges { cursor } } }')).data as { changes: { edges: { cursor: string }[] } }).changes.edges.at(-1)!.cursor;
    const live = subscribe<{ memberChanged: { member: { email: string } } }>(server.url, token, 'subscription ($after: String) { memberChanged(after: $after) { member { email } } }', { after: start });
    const toB = subscribe(server.url, token, 'subscription ($t: ID!) { memberChanged(tenantId: $t) { cursor } }', { t: bIds.Tenant![0] });
    await toB.done;
    expect(toB.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);
    const rename = (org: SeededOrg, i: number) =>
      stytchEvent('member', 'UPDATE', org.memberIds[i]!, { member_id: org.memberIds[i], organization_id: org.organizationId, email_address: org.emails[i], name: `Renamed ${org.tag}`, status: 'active' }, new Date(Date.now() + 1000));
    await sendAll(server, [rename(a, 0), rename(b, 0), rename(c, 0)], 1);
    await eventually(() => live.events.length >= 2, 30_000, 'A and C renamed');
    // B's rename came between A's and C's: had it been pushed, it would be here by now.
    expect(live.events.map((e) => e.memberChanged.member.email).sort()).toEqual([a.emails[0], c.emails[0]].sort());
    await Promise.all([live.close(), toB.close()]);
  });

  it("runs an automatic persisted query B's key registered as its own, with its own tenants' rows", async () => {
    // Apollo Server's default APQ store is its bounded in-memory cache: a hash names a text, nothing more.
    const text = '{ members(first: 50) { edges { node { email } } } }';
    const hash = createHash('sha256').update(text).digest('hex');
    const send = async (bearer: string, body: unknown) => {
      const response = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) });
      return (await response.text()) as string;
    };
    const keyB = await tenantKey(server, b.tenantUuid);
    expect(await send(keyB, { query: text, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } })).toContain(b.emails[0]!);
    const byHash = await send(token, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
    expect(byHash).toContain(a.emails[0]!);
    expectNothingOfB({ text: byHash } as GraphQLReply);
  });

  it('is refused whole when it names a tenant this directory lacks, or an empty list', async () => {
    for (const claim of [[`stytch:${a.organizationId}`, 'stytch:organization-nowhere'], []]) {
      const refused = await gql(server, '{ viewer { role } }', {}, await signIn.token({ dsync_tenant: claim }));
      expect(refused.status).toBe(403);
      expect(refused.errors?.[0]?.message).toMatch(/organization-nowhere|empty list/);
    }
  });
});
