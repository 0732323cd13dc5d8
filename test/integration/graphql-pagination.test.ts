// Relay pagination over 250 rows, forwards and backwards, nested and top-level: every row
// exactly once, in order, with honest pageInfo, and the edge cases clients trip over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { seedPolisDirectory } from '../support/directory.js';
import { gql, gqlData, startTestServer, type TestServer } from '../support/server.js';
import { budget } from '../support/time.js';

let server: TestServer;
let tenantId: string;
let expected: string[];

const ROWS = 250;

interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  edges: { cursor: string; node: { email: string } }[];
}

beforeAll(async () => {
  server = await startTestServer();
  // Batches of 40: rows of one batch share a created_at, so the id tie-break is exercised.
  const seeded = await seedPolisDirectory(server, { users: ROWS, batch: 40 });
  const found = await gqlData<{ tenants: { edges: { node: { id: string } }[] } }>(
    server,
    `query ($t: String!) { tenants(filter: { externalId: $t }) { edges { node { id } } } }`,
    { t: seeded.tenant },
  );
  tenantId = found.tenants.edges[0]?.node.id as string;
  // The reference order, read in one go (100 at most per page, so three reads).
  expected = [];
  let after: string | null = null;
  do {
    const page: { members: Page } = await gqlData(
      server,
      `query ($t: ID!, $after: String) { members(tenantId: $t, first: 100, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { email } } } }`,
      { t: tenantId, after },
    );
    expected.push(...page.members.edges.map((e) => e.node.email));
    after = page.members.pageInfo.hasNextPage ? page.members.pageInfo.endCursor : null;
  } while (after);
  expect(new Set(expected).size).toBe(ROWS);
  expect(new Set(expected)).toEqual(new Set(seeded.emails));
}, budget(120_000));
afterAll(() => server?.close());

// Every variable is always passed through (unset ones as null, which means "not given").
const membersPage = (vars: Record<string, unknown> = {}) =>
  gqlData<{ members: Page }>(
    server,
    `query ($t: ID!, $first: Int, $after: String, $last: Int, $before: String) {
      members(tenantId: $t, first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { email } } } }`,
    { t: tenantId, ...vars },
  );

describe(`pagination over ${ROWS} rows (${backend})`, () => {
  it.each([1, 7, 50, 100])('forwards, %i at a time: every row once, in order', async (size) => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; ; pages++) {
      const { members } = await membersPage({ first: size, after });
      expect(members.totalCount).toBe(ROWS);
      expect(members.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(members.edges.length).toBeLessThanOrEqual(size);
      expect(members.pageInfo.startCursor).toBe(members.edges[0]?.cursor ?? null);
      expect(members.pageInfo.endCursor).toBe(members.edges.at(-1)?.cursor ?? null);
      seen.push(...members.edges.map((e) => e.node.email));
      if (!members.pageInfo.hasNextPage) break;
      after = members.pageInfo.endCursor;
      expect(pages).toBeLessThan(ROWS);
    }
    expect(seen).toEqual(expected);
  });

  it.each([1, 13, 100])('backwards, %i at a time: every row once, in order', async (size) => {
    const seen: string[] = [];
    let before: string | null = null;
    for (;;) {
      const { members } = await membersPage({ last: size, before });
      expect(members.pageInfo.hasNextPage).toBe(before !== null);
      seen.unshift(...members.edges.map((e) => e.node.email));
      if (!members.pageInfo.hasPreviousPage) break;
      before = members.pageInfo.startCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('pages between two cursors, and mixes directions from one cursor', async () => {
    const { members: all } = await membersPage({ first: 100 });
    const from = all.edges[9]?.cursor;
    const to = all.edges[20]?.cursor;
    const { members: between } = await membersPage({
      first: 100,
      after: from,
      before: to,
    });
    expect(between.edges.map((e) => e.node.email)).toEqual(expected.slice(10, 20));
    const { members: back } = await membersPage({ last: 5, before: to });
    expect(back.edges.map((e) => e.node.email)).toEqual(expected.slice(15, 20));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
  });

  it('edge cases: first 0, after the last cursor, before the first, an empty list', async () => {
    const { members: zero } = await membersPage({ first: 0 });
    expect(zero.edges).toEqual([]);
    expect(zero.pageInfo).toMatchObject({ hasNextPage: true, startCursor: null, endCursor: null });
    expect(zero.totalCount).toBe(ROWS);

    const { members: tail } = await membersPage({ last: 1 });
    expect(tail.edges.map((e) => e.node.email)).toEqual([expected.at(-1)]);
    const { members: beyond } = await membersPage({ first: 10, after: tail.pageInfo.endCursor });
    expect(beyond.edges).toEqual([]);
    expect(beyond.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true, endCursor: null });

    const { members: head } = await membersPage({ first: 1 });
    const { members: before } = await membersPage({ last: 10, before: head.pageInfo.startCursor });
    expect(before.edges).toEqual([]);
    expect(before.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });

    const { members: defaults } = await membersPage();
    expect(defaults.edges).toHaveLength(20);

    const empty = await gqlData<{ groups: Page & { edges: unknown[] } }>(
      server,
      `query ($t: ID!) { groups(tenantId: $t, first: 10) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor } } }`,
      { t: tenantId },
    );
    expect(empty.groups).toEqual({
      totalCount: 0,
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      edges: [],
    });
  });

  it('nested lists page the same way (Tenant.members)', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const data: { tenant: { members: Page } } = await gqlData(
        server,
        `query ($t: ID!, $after: String) { tenant(id: $t) { members(first: 64, after: $after) {
          totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { email } } } } }`,
        { t: tenantId, after },
      );
      const page = data.tenant.members;
      expect(page.totalCount).toBe(ROWS);
      expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
      seen.push(...page.edges.map((e) => e.node.email));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected);
  });

  it('cursors survive a restart of the server', async () => {
    const { members } = await membersPage({ first: 30 });
    const cursor = members.pageInfo.endCursor;
    const again = await startTestServer({
      database: { handle: server.database, url: server.databaseUrl, dispose: async () => {} },
    });
    try {
      const reply = await gql(
        again,
        `query ($t: ID!, $after: String) { members(tenantId: $t, first: 5, after: $after) { edges { node { email } } } }`,
        { t: tenantId, after: cursor },
      );
      expect((reply.data as { members: Page }).members.edges.map((e) => e.node.email)).toEqual(expected.slice(30, 35));
    } finally {
      await again.close();
    }
  });
});
