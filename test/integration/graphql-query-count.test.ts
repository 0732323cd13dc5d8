// The number of SQL statements a query costs, counted at the driver boundary (every statement
// Drizzle sends): one on the compiled read path (src/read), whatever its depth and page sizes;
// on the resolver path (GRAPHQL_READ_PATH=resolvers, and the fallback) a few, not growing with
// the page size, thanks to the DataLoaders.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, openTestDatabase, type TestDatabase } from '../support/backend.js';
import { seedStytchOrg, type SeededOrg } from '../support/directory.js';
import { gqlData, startTestServer, type TestServer } from '../support/server.js';
import { budget } from '../support/time.js';

let server: TestServer;
let resolverServer: TestServer;
let database: TestDatabase;
let org: SeededOrg;
let tenantId: string;
const statements: string[] = [];

beforeAll(async () => {
  database = await openTestDatabase({ onQuery: (q) => statements.push(q) });
  [server, resolverServer] = await Promise.all([
    startTestServer({ database }),
    startTestServer({ database, env: { GRAPHQL_READ_PATH: 'resolvers' } }),
  ]);
  const memberships: [number, number][] = [];
  for (let m = 0; m < 60; m++) for (const g of [m % 10, (m + 3) % 10, (m + 7) % 10]) memberships.push([m, g]);
  org = await seedStytchOrg(server, { members: 60, groups: 10, memberships });
  const data = await gqlData<{ tenants: { edges: { node: { id: string } }[] } }>(
    server,
    `query ($id: String!) { tenants(filter: { externalId: $id }) { edges { node { id } } } }`,
    { id: org.organizationId },
  );
  tenantId = data.tenants.edges[0]?.node.id as string;
  // What the seed moved of members' app values is worked out in the background: done before counting.
  await Promise.all([server.server.recompute.idle(), resolverServer.server.recompute.idle()]);
}, budget(120_000));
afterAll(async () => {
  await Promise.all([server?.close(), resolverServer?.close()]);
  await database?.dispose();
});

/**
 * The change feed's follower reads `changes` on its own (after the seed's notifications, and
 * every few seconds), and so does the reader of members' app values, which also looks for
 * recomputes to do: on a slow machine such a read can fall inside a measured request, so it is
 * not counted as the request's.
 */
const FEED_READ = /from "changes"|"app_values_position"|"app_recomputes"|"member_app_values"/;

/** Runs a query and returns how many statements it cost. */
async function cost(query: string, variables: Record<string, unknown>, on = server): Promise<number> {
  statements.length = 0;
  await gqlData(on, query, variables);
  return statements.filter((q) => !FEED_READ.test(q)).length;
}

const membersWithGroups = `query ($t: ID!, $n: Int!) {
  members(tenantId: $t, first: $n) { totalCount edges { node { email tenant { name }
    groups(first: 10) { totalCount edges { node { name tenant { name } } } } } } } }`;

const tenantTree = `query ($t: ID!, $n: Int!) {
  tenant(id: $t) { members(first: $n) { edges { node { email directory { name }
    groups(first: 3) { edges { node { name members(first: 5) { totalCount edges { node { email } } } } } } } } } } }`;

const ordered = `query ($t: ID!) {
  members(tenantId: $t, first: 20, orderBy: [{ field: NAME, direction: DESC }]) { countsByStatus { status count }
    pageInfo { hasNextPage endCursor } edges { node { email groups(first: 5, orderBy: { field: NAME }) { edges { node { name memberCount } } } } } } }`;

describe(`SQL statements per request (${backend})`, () => {
  it('one statement per query on the compiled read path, however deep and wide', async () => {
    for (const [query, n] of [[membersWithGroups, 5], [membersWithGroups, 50], [tenantTree, 5], [tenantTree, 50], [ordered, 0]] as const) {
      expect(await cost(query, { t: tenantId, n })).toBe(1);
    }
  });

  it('a page of members with their groups and tenant, on the resolvers: the same cost for 5 or 50', async () => {
    const small = await cost(membersWithGroups, { t: tenantId, n: 5 }, resolverServer);
    const large = await cost(membersWithGroups, { t: tenantId, n: 50 }, resolverServer);
    console.log(`members(first: 5|50) with groups and tenant: ${small} | ${large} statements`);
    expect(large).toBe(small);
    // The page's rows (read with their positions), member count, every member's groups in one
    // lateral read, group counts, tenant rows, and the key: each list read costs one statement,
    // not one for its positions and another for its rows.
    expect(large).toBeLessThanOrEqual(6);
  });

  it('three levels deep (tenant → members → groups → members), on the resolvers: the same cost for 5 or 50', async () => {
    const small = await cost(tenantTree, { t: tenantId, n: 5 }, resolverServer);
    const large = await cost(tenantTree, { t: tenantId, n: 50 }, resolverServer);
    console.log(`tenant → members(5|50) → groups → members: ${small} | ${large} statements`);
    // Can be one fewer for 50: the third level's members are then already in the loader's cache.
    expect(large).toBeLessThanOrEqual(small);
    expect(large).toBeLessThanOrEqual(6);
  });

  it.each([['compiled', () => server], ['resolver', () => resolverServer]] as const)('the answers are right, not just cheap (%s path)', async (_path, on) => {
    const data = await gqlData<{ members: { edges: { node: { email: string; groups: { totalCount: number; edges: { node: { name: string } }[] } } }[] } }>(
      on(),
      membersWithGroups,
      { t: tenantId, n: 50 },
    );
    expect(data.members.edges).toHaveLength(50);
    for (const { node } of data.members.edges) {
      const m = org.emails.indexOf(node.email);
      const expected = [m % 10, (m + 3) % 10, (m + 7) % 10].map((g) => org.groupNames[g]).sort();
      expect(node.groups.totalCount).toBe(3);
      expect(node.groups.edges.map((e) => e.node.name).sort()).toEqual(expected);
    }
  });
});
