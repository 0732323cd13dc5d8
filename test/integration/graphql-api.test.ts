// Signed webhooks in over HTTP, the directory out over GraphQL: values, statuses, memberships,
// tombstones, the change feed, deliveries and errors, all through the running server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, openTestDatabase } from '../support/backend.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { polisAll, stytchSeed, uniquify, withPayloadSecret } from '../support/fixtures.js';
import { gql, gqlData, sendPolis, sendStytch, startTestServer, tenantKey, type TestServer } from '../support/server.js';
import { newPayloadSecret } from '../support/sign.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

interface Edge<T> {
  cursor: string;
  node: T;
}
interface Conn<T> {
  totalCount: number;
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}
const nodes = <T>(c: Conn<T>) => c.edges.map((e) => e.node);

const LIST_OF: Record<string, { field: string; select: string }> = {
  organization: { field: 'tenants', select: 'name slug product' },
  member: { field: 'members', select: 'email name status roles' },
  saml_connection: { field: 'connections', select: 'kind name status' },
  oidc_connection: { field: 'connections', select: 'kind name status' },
  scim_group: { field: 'groups', select: 'name' },
};

describe(`Stytch seed events read back over GraphQL (${backend})`, () => {
  it.each(stytchSeed.filter((f) => f.event.object_type !== 'scim_member_group').map((f) => [f.title, f] as const))(
    '%s',
    async (_title, fixture) => {
      const event = uniquify(fixture.event) as Record<string, unknown> & { id: string; object_type: string; action: string };
      expect((await sendStytch(server, event)).status).toBe(200);
      const { field, select } = LIST_OF[event.object_type] as { field: string; select: string };
      const data = await gqlData<Record<string, Conn<Record<string, unknown>>>>(
        server,
        `query ($id: String!) { list: ${field}(filter: { externalId: $id, includeDeleted: true }) {
          totalCount edges { node { id provider externalId deletedAt raw ${select} } } } }`,
        { id: event.id },
      );
      const [node] = nodes(data.list as Conn<Record<string, unknown>>);
      expect(data.list?.totalCount).toBe(1);
      expect(node).toMatchObject({ provider: 'STYTCH', externalId: event.id });
      const body = event[event.object_type] as Record<string, unknown> | undefined;
      if (event.action === 'DELETE') {
        expect(node?.deletedAt).not.toBeNull();
        if ('status' in (node ?? {})) expect(node?.status).toBe('DELETED');
        return;
      }
      expect(node?.deletedAt).toBeNull();
      expect(node?.raw).toMatchObject(Object.fromEntries(Object.entries(body ?? {}).filter(([k]) => k !== 'client_secret')));
      switch (event.object_type) {
        case 'organization':
          expect(node).toMatchObject({ name: body?.organization_name, slug: body?.organization_slug, product: '' });
          break;
        case 'member':
          expect(node).toMatchObject({ email: body?.email_address, name: body?.name, status: String(body?.status).toUpperCase() });
          break;
        case 'saml_connection':
        case 'oidc_connection':
          expect(node).toMatchObject({
            kind: event.object_type === 'saml_connection' ? 'SAML' : 'OIDC',
            name: body?.display_name,
            status: String(body?.status).toUpperCase(),
          });
          break;
        case 'scim_group':
          expect(node).toMatchObject({ name: body?.group_name });
          break;
      }
    },
  );
});

describe(`a Stytch organization's life over GraphQL (${backend})`, () => {
  let org: SeededOrg;
  let tenantId: string;
  beforeAll(async () => {
    org = await seedStytchOrg(server, { members: 6, groups: 2, memberships: [[0, 0], [0, 1], [1, 0], [2, 1], [3, 0]] });
    const data = await gqlData<{ tenants: Conn<{ id: string }> }>(
      server,
      `query ($id: String!) { tenants(filter: { externalId: $id }) { edges { node { id } } } }`,
      { id: org.organizationId },
    );
    tenantId = nodes(data.tenants)[0]?.id as string;
  });

  const tenantQuery = `query ($id: ID!, $deleted: Boolean) {
    tenant(id: $id) {
      name provider externalId
      connections(filter: { includeDeleted: $deleted }) { totalCount edges { node { kind name status tenant { name } } } }
      members(first: 100, filter: { includeDeleted: $deleted }) {
        totalCount
        edges { node { externalId email status deletedAt
          groups(filter: { includeDeleted: $deleted }) { totalCount edges { node { externalId name } } } } }
      }
      groups(filter: { includeDeleted: $deleted }) {
        totalCount edges { node { externalId name members(first: 100) { totalCount edges { node { externalId } } } } }
      }
    }
  }`;

  interface TenantView {
    tenant: {
      name: string;
      connections: Conn<{ kind: string; name: string; status: string; tenant: { name: string } }>;
      members: Conn<{ externalId: string; email: string; status: string; deletedAt: string | null; groups: Conn<{ externalId: string }> }>;
      groups: Conn<{ externalId: string; name: string; members: Conn<{ externalId: string }> }>;
    };
  }

  it('lists its connections, members, groups and memberships both ways', async () => {
    const { tenant } = await gqlData<TenantView>(server, tenantQuery, { id: tenantId });
    expect(tenant.name).toBe(org.name);
    // The SCIM connection its groups name has sent no event of its own: a placeholder, no status.
    expect(nodes(tenant.connections).map((c) => [c.kind, c.status, c.tenant.name]).sort()).toEqual([
      ['DIRECTORY', null, org.name],
      ['OIDC', 'PENDING', org.name],
      ['SAML', 'ACTIVE', org.name],
    ]);
    expect(tenant.members.totalCount).toBe(6);
    // Members come in the order they were first seen; statuses as sent (every fifth invited).
    const members = nodes(tenant.members);
    expect(new Set(members.map((m) => m.email))).toEqual(new Set(org.emails));
    expect(members.find((m) => m.externalId === org.memberIds[4])?.status).toBe('INVITED');
    const groupsOf = (i: number) =>
      nodes(members.find((m) => m.externalId === org.memberIds[i])?.groups as Conn<{ externalId: string }>)
        .map((g) => g.externalId)
        .sort();
    expect(groupsOf(0)).toEqual([org.groupIds[0], org.groupIds[1]].sort());
    expect(groupsOf(1)).toEqual([org.groupIds[0]]);
    expect(groupsOf(5)).toEqual([]);
    const group0 = nodes(tenant.groups).find((g) => g.externalId === org.groupIds[0]);
    expect(group0?.members.totalCount).toBe(3);
    expect(nodes(group0?.members as Conn<{ externalId: string }>).map((m) => m.externalId).sort()).toEqual(
      [org.memberIds[0], org.memberIds[1], org.memberIds[3]].sort(),
    );
  });

  it('shows updates, hides deletions, and keeps tombstones for includeDeleted', async () => {
    const later = new Date(Date.now() + 1000);
    await sendAll(server, [
      stytchEvent('member', 'UPDATE', org.memberIds[1] as string, {
        member_id: org.memberIds[1],
        organization_id: org.organizationId,
        email_address: 'renamed@example.test',
        name: 'Renamed',
        status: 'active',
      }, later),
      stytchEvent('member', 'DELETE', org.memberIds[2] as string, undefined, later),
      stytchEvent('scim_member_group', 'DELETE', `scim-member-group-test-${org.tag}-0-1`, undefined, later),
      stytchEvent('saml_connection', 'DELETE', org.samlConnectionId, undefined, later),
    ]);

    const live = (await gqlData<TenantView>(server, tenantQuery, { id: tenantId })).tenant;
    expect(live.members.totalCount).toBe(5);
    const liveMembers = nodes(live.members);
    expect(liveMembers.find((m) => m.externalId === org.memberIds[1])?.email).toBe('renamed@example.test');
    expect(liveMembers.some((m) => m.externalId === org.memberIds[2])).toBe(false);
    const member0 = liveMembers.find((m) => m.externalId === org.memberIds[0]);
    expect(nodes(member0?.groups as Conn<{ externalId: string }>).map((g) => g.externalId)).toEqual([org.groupIds[0]]);
    expect(nodes(live.connections).map((c) => c.kind).sort()).toEqual(['DIRECTORY', 'OIDC']);
    // The deleted member has left its group's member list too.
    const group1 = nodes(live.groups).find((g) => g.externalId === org.groupIds[1]);
    expect(group1?.members.totalCount).toBe(0);

    const all = (await gqlData<TenantView>(server, tenantQuery, { id: tenantId, deleted: true })).tenant;
    expect(all.members.totalCount).toBe(6);
    const gone = nodes(all.members).find((m) => m.externalId === org.memberIds[2]);
    expect(gone?.status).toBe('DELETED');
    expect(gone?.deletedAt).not.toBeNull();
    const member0All = nodes(all.members).find((m) => m.externalId === org.memberIds[0]);
    expect(member0All?.groups.totalCount).toBe(2);
    expect(nodes(all.connections).find((c) => c.kind === 'SAML')?.status).toBe('DELETED');

    // Filters by status and by the DELETED pseudo-status.
    const filtered = await gqlData<{ deleted: Conn<{ externalId: string }>; invited: Conn<{ externalId: string }> }>(
      server,
      `query ($t: ID!) {
        deleted: members(tenantId: $t, filter: { status: DELETED }) { totalCount edges { node { externalId } } }
        invited: members(tenantId: $t, filter: { status: INVITED }) { totalCount edges { node { externalId } } }
      }`,
      { t: tenantId },
    );
    expect(nodes(filtered.deleted).map((m) => m.externalId)).toEqual([org.memberIds[2]]);
    expect(nodes(filtered.invited).map((m) => m.externalId)).toEqual([org.memberIds[4]]);
  });

  it('filters members by email, group and text, and groups by member and text', async () => {
    const group0 = await gqlData<{ groups: Conn<{ id: string }> }>(
      server,
      `query ($id: String!) { groups(filter: { externalId: $id }) { edges { node { id } } } }`,
      { id: org.groupIds[0] },
    );
    const groupId = nodes(group0.groups)[0]?.id;
    const member0 = await gqlData<{ members: Conn<{ id: string }> }>(
      server,
      `query ($email: String!) { members(filter: { email: $email }) { edges { node { id } } } }`,
      { email: (org.emails[0] as string).toUpperCase() },
    );
    expect(member0.members.edges).toHaveLength(1);
    const memberId = nodes(member0.members)[0]?.id;

    const data = await gqlData<Record<string, Conn<{ externalId: string }>>>(
      server,
      `query ($t: ID!, $g: ID!, $m: ID!, $text: String!) {
        inGroup: members(tenantId: $t, filter: { groupId: $g }) { edges { node { externalId } } }
        byText: members(tenantId: $t, filter: { search: $text }) { edges { node { externalId } } }
        ofMember: groups(tenantId: $t, filter: { memberId: $m }) { edges { node { externalId } } }
        groupText: groups(tenantId: $t, filter: { search: "GROUP 1" }) { edges { node { externalId } } }
        saml: connections(tenantId: $t, filter: { kind: SAML, includeDeleted: true }) { edges { node { externalId } } }
        pending: connections(tenantId: $t, filter: { status: PENDING }) { edges { node { externalId } } }
        literal: members(tenantId: $t, filter: { search: "%" }) { edges { node { externalId } } }
      }`,
      { t: tenantId, g: groupId, m: memberId, text: `person 3 ${org.tag}` },
    );
    const ids = (k: string) => nodes(data[k] as Conn<{ externalId: string }>).map((n) => n.externalId).sort();
    expect(ids('inGroup')).toEqual([org.memberIds[0], org.memberIds[1], org.memberIds[3]].sort());
    expect(ids('byText')).toEqual([org.memberIds[3]]);
    expect(ids('ofMember')).toEqual([org.groupIds[0]]);
    expect(ids('groupText')).toEqual([org.groupIds[1]]);
    expect(ids('saml')).toEqual([org.samlConnectionId]);
    expect(ids('pending')).toEqual([org.oidcConnectionId]);
    expect(ids('literal')).toEqual([]); // "%" is matched literally, not as a wildcard
  });

  it('resolves every object by node(id), and tenant(id)', async () => {
    const data = await gqlData<{ tenant: { members: Conn<{ id: string; __typename: string }>; groups: Conn<{ id: string }>; connections: Conn<{ id: string }> } }>(
      server,
      `query ($id: ID!) { tenant(id: $id) {
        members(first: 1) { edges { node { id __typename } } }
        groups(first: 1) { edges { node { id } } }
        connections(first: 1) { edges { node { id } } } } }`,
      { id: tenantId },
    );
    const ids = [
      tenantId,
      nodes(data.tenant.members)[0]?.id,
      nodes(data.tenant.groups)[0]?.id,
      nodes(data.tenant.connections)[0]?.id,
    ];
    for (const id of ids) {
      const found = await gqlData<{ node: { id: string } | null }>(server, `query ($id: ID!) { node(id: $id) { id } }`, { id });
      expect(found.node?.id).toBe(id);
    }
    const types = await gqlData<{ a: { __typename: string }; b: { __typename: string } }>(
      server,
      `query ($t: ID!, $m: ID!) { a: node(id: $t) { __typename } b: node(id: $m) { __typename ... on Member { email tenant { id } } } }`,
      { t: tenantId, m: ids[1] },
    );
    expect(types.a.__typename).toBe('Tenant');
    expect(types.b).toMatchObject({ __typename: 'Member', tenant: { id: tenantId } });
  });
});

describe(`Ory Polis streams over GraphQL (${backend})`, () => {
  it('an SSO connection, and a directory whose user, group and membership end deleted', async () => {
    const secret = newPayloadSecret();
    const tag = 'a1b2c3d4e5f6';
    for (const fixture of polisAll) {
      const reply = await sendPolis(server, withPayloadSecret(uniquify(fixture.event, tag), secret));
      expect(reply.status).toBe(200);
    }
    const query = `query ($deleted: Boolean) {
      tenants(filter: { provider: POLIS, search: "${tag}", includeDeleted: $deleted }) {
        edges { node { externalId product
          connections(filter: { includeDeleted: $deleted }) { edges { node { kind status name raw } } }
          members(filter: { includeDeleted: $deleted }) { edges { node { email status firstName lastName roles
            directory { kind status }
            groups(filter: { includeDeleted: $deleted }) { edges { node { name deletedAt } } } } } }
          groups(filter: { includeDeleted: $deleted }) { edges { node { name deletedAt directory { kind } } } }
        } }
      }
    }`;
    type PolisView = {
      tenants: Conn<{
        externalId: string;
        product: string;
        connections: Conn<{ kind: string; status: string; name: string; raw: unknown }>;
        members: Conn<{ email: string; status: string; directory: { kind: string; status: string }; groups: Conn<{ name: string }> }>;
        groups: Conn<{ name: string; deletedAt: string | null; directory: { kind: string } }>;
      }>;
    };
    const all = await gqlData<PolisView>(server, query, { deleted: true });
    const tenants = nodes(all.tenants);
    expect(tenants.map((t) => `${t.externalId.replace(`-${tag}`, '')}/${t.product}`).sort()).toEqual(['acme/portal', 'ory/demo']);
    const acme = tenants.find((t) => t.product === 'portal');
    const kinds = nodes(acme?.connections as PolisView['tenants']['edges'][0]['node']['connections']).map((c) => c.kind).sort();
    expect(kinds).toContain('DIRECTORY');
    const members = nodes(acme?.members as PolisView['tenants']['edges'][0]['node']['members']);
    expect(members).toHaveLength(1);
    expect(members[0]).toMatchObject({ email: 'grace@acme.example', status: 'DELETED', directory: { kind: 'DIRECTORY', status: 'DELETED' } });
    expect(nodes(members[0]?.groups as Conn<{ name: string }>).map((g) => g.name)).toEqual(['developers']);
    expect(nodes(acme?.groups as PolisView['tenants']['edges'][0]['node']['groups'])[0]).toMatchObject({
      name: 'developers',
      directory: { kind: 'DIRECTORY' },
    });

    const live = await gqlData<PolisView>(server, query, { deleted: false });
    const liveAcme = nodes(live.tenants).find((t) => t.product === 'portal');
    expect(liveAcme?.members.edges ?? []).toEqual([]);
    expect(liveAcme?.groups.edges ?? []).toEqual([]);

    // The SSO connection's client secret is in no response, raw included.
    const everything = await gql(server, query, { deleted: true });
    expect(everything.text).not.toContain(secret);
    expect(everything.text).toContain('[redacted]');
  });
});

describe(`the change feed (${backend})`, () => {
  it('pages through every change once, in order, and resumes from a cursor', async () => {
    const org = await seedStytchOrg(server, { members: 4, groups: 1 });
    const tenantId = nodes(
      (await gqlData<{ tenants: Conn<{ id: string }> }>(
        server,
        `query ($id: String!) { tenants(filter: { externalId: $id }) { edges { node { id } } } }`,
        { id: org.organizationId },
      )).tenants,
    )[0]?.id as string;
    type Feed = { changes: Conn<{ action: string; entity: string; node: { __typename: string; id: string } | null; tenant: { id: string } }> };
    const q = `query ($t: ID, $after: String) { changes(tenantId: $t, first: 3, after: $after) {
      totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { action entity occurredAt recordedAt node { __typename id } tenant { id } } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const data: Feed = await gqlData<Feed>(server, q, { t: tenantId, after });
      pages++;
      expect(data.changes.pageInfo.hasPreviousPage).toBe(after !== null);
      for (const e of data.changes.edges) {
        seen.push(`${e.node.entity}:${e.node.action}`);
        expect(e.node.tenant.id).toBe(tenantId);
        expect(e.node.node?.__typename.toUpperCase()).toBe(e.node.entity);
      }
      if (!data.changes.pageInfo.hasNextPage) {
        expect(data.changes.totalCount).toBe(seen.length);
        break;
      }
      after = data.changes.pageInfo.endCursor;
    }
    // organization, 2 connections, 4 members, 1 group, 4 memberships: each CREATED once.
    expect(seen).toHaveLength(12);
    expect(seen[0]).toBe('TENANT:CREATED');
    expect(new Set(seen)).toEqual(new Set(['TENANT:CREATED', 'CONNECTION:CREATED', 'MEMBER:CREATED', 'GROUP:CREATED', 'MEMBERSHIP:CREATED']));
    expect(pages).toBe(4);

    // Resume: only changes after the cursor, in order.
    const before = await gqlData<Feed>(server, `query ($t: ID) { changes(tenantId: $t, first: 100) { edges { cursor } } }`, { t: tenantId });
    const last = before.changes.edges.at(-1)?.cursor as string;
    await sendAll(server, [stytchEvent('member', 'DELETE', org.memberIds[0] as string)]);
    const resumed = await gqlData<Feed>(server, q, { t: tenantId, after: last });
    expect(resumed.changes.edges.map((e) => `${e.node.entity}:${e.node.action}`)).toEqual(['MEMBER:DELETED']);
  });
});

describe(`deliveries (${backend})`, () => {
  it('lists recent deliveries newest first for admins, with ignored ones and why', async () => {
    const ignored = { action: 'CREATE', id: 'user-test-1', object_type: 'user', timestamp: new Date().toISOString(), vertical: 'CONSUMER', user: {} };
    expect((await sendStytch(server, ignored)).status).toBe(200);
    const data = await gqlData<{ deliveries: Conn<{ id: string; source: string; status: string; reason: string | null; eventTypes: string[]; body: unknown }> }>(
      server,
      `{ deliveries(first: 2, filter: { source: "stytch" }) { totalCount edges { node { id source status reason eventTypes body receivedAt } } } }`,
    );
    const [newest] = nodes(data.deliveries);
    expect(newest).toMatchObject({ source: 'stytch', status: 'ignored', eventTypes: ['user.create'] });
    expect(newest?.reason).toMatch(/consumer/i);
    const byStatus = await gqlData<{ deliveries: Conn<{ status: string }> }>(
      server,
      `{ deliveries(first: 100, filter: { status: "ignored" }) { edges { node { status } } } }`,
    );
    expect(nodes(byStatus.deliveries).every((d) => d.status === 'ignored')).toBe(true);
    const node = await gqlData<{ node: { source: string } }>(server, `query ($id: ID!) { node(id: $id) { ... on Delivery { source } } }`, { id: newest?.id });
    expect(node.node.source).toBe('stytch');
  });
});

describe(`errors (${backend})`, () => {
  it('401 UNAUTHENTICATED with no key, a malformed key, an unknown key and a revoked key', async () => {
    const cases: [string, string | null][] = [
      ['no key', null],
      ['malformed', 'not-a-key'],
      ['unknown', `dsk_${'A'.repeat(43)}`],
    ];
    for (const [, key] of cases) {
      const reply = await gql(server, '{ viewer { role } }', {}, key);
      expect(reply.status).toBe(401);
      expect(reply.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(reply.data ?? null).toBeNull();
    }
    const raw = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic abc' },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(raw.status).toBe(401);
  });

  it('marks every answer uncacheable: it holds one credential\'s view of a directory', async () => {
    for (const authorization of [`Bearer ${server.adminKey}`, 'Bearer nope']) {
      const reply = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      expect(reply.headers.get('cache-control'), authorization).toBe('no-store');
    }
  });

  it('BAD_USER_INPUT for bad cursors, ids, page sizes and combinations', async () => {
    const bad = [
      ['{ members(after: "nope") { totalCount } }', 'after'],
      ['{ members(before: "eyJ4IjoxfQ") { totalCount } }', 'before'],
      ['{ members(first: 101) { totalCount } }', 'first'],
      ['{ members(last: 1000) { totalCount } }', 'last'],
      ['{ members(first: -1) { totalCount } }', 'first'],
      ['{ members(first: 1, last: 1) { totalCount } }', 'last'],
      ['{ members(tenantId: "bm9wZQ") { totalCount } }', 'tenantId'],
      ['{ node(id: "%%%") { id } }', 'id'],
      ['{ tenant(id: "TWVtYmVyOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA") { id } }', 'id'],
      ['{ changes(after: "WyJyIiwxLCIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiXQ") { totalCount } }', 'after'],
      ['{ members(filter: { groupId: "x" }) { totalCount } }', 'filter.groupId'],
      ['{ deliveries(filter: { status: "weird" }) { totalCount } }', 'filter.status'],
    ] as const;
    for (const [query, argument] of bad) {
      const reply = await gql(server, query);
      expect(reply.status, query).toBe(200);
      expect(reply.errors?.[0]?.extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', argument });
      expect(reply.errors?.[0]?.extensions?.stacktrace, query).toBeUndefined();
    }
    const over = await gql(server, '{ members(first: 101) { totalCount } }');
    expect(over.errors?.[0]?.message).toMatch(/maximum page size of 100/);
    const syntax = await gql(server, '{ members( }');
    expect(syntax.status).toBe(400);
    expect(syntax.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('FORBIDDEN deliveries and NOT_FOUND tenants for a tenant key', async () => {
    const org = await seedStytchOrg(server, { members: 1, groups: 0 });
    const key = await tenantKey(server, org.tenantUuid);
    const deliveries = await gql(server, '{ deliveries { totalCount } }', {}, key);
    expect(deliveries.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Asked for beside other fields, the refusal costs only that field, not the whole answer.
    const mixed = await gql(server, '{ viewer { role } deliveries { totalCount } reconcileRuns { id } }', {}, key);
    expect(mixed.data).toEqual({ viewer: { role: 'TENANT' }, deliveries: null, reconcileRuns: null });
    expect(mixed.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    const other = await gql(
      server,
      'query ($t: ID!) { members(tenantId: $t) { totalCount } }',
      { t: Buffer.from('Tenant:00000000-0000-4000-8000-000000000000').toString('base64url') },
      key,
    );
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const viewer = await gqlData<{ viewer: { role: string; tenant: { externalId: string } } }>(
      server,
      '{ viewer { role tenant { externalId } } }',
      {},
      key,
    );
    expect(viewer.viewer).toEqual({ role: 'TENANT', tenant: { externalId: org.organizationId } });
  });

  it('GET works for queries with Authorization or a preflight header, and CSRF prevention refuses simple GETs', async () => {
    const url = `${server.url}/graphql?query=${encodeURIComponent('{ viewer { role } }')}`;
    const auth = { authorization: `Bearer ${server.adminKey}` };
    const ok = await fetch(url, { headers: { ...auth, 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { viewer: { role: 'ADMIN' } } });
    // Authorization alone (urql's default GET): no browser sends it cross-site without a preflight.
    const withKey = await fetch(url, { headers: auth });
    expect(withKey.status).toBe(200);
    expect(await withKey.json()).toEqual({ data: { viewer: { role: 'ADMIN' } } });
    // A simple GET, as a page on another site could make: refused before anything else.
    const simple = await fetch(url);
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/CSRF/i);
    const landing = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await landing.text()).not.toMatch(/apollographql|cdn/i);
  });
});

describe(`a database that is gone (${backend})`, () => {
  it('answers SERVICE_UNAVAILABLE with nothing of its insides, not an internal error', async () => {
    const database = await openTestDatabase();
    const alone = await startTestServer({ database });
    try {
      await database.handle.close();
      const reply = await gql(alone, '{ tenants { totalCount } }');
      expect(reply.errors?.[0]).toEqual({
        message: 'the database is unavailable; retry shortly',
        path: ['tenants'],
        extensions: { code: 'SERVICE_UNAVAILABLE' },
      });
      expect(reply.data).toBeNull();
    } finally {
      await alone.close();
      await database.dispose().catch(() => {});
    }
  });
});

describe(`production errors and CORS (${backend})`, () => {
  let prod: TestServer;
  beforeAll(async () => {
    prod = await startTestServer({ env: { NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.test' } });
  });
  afterAll(() => prod?.close());

  it('carries no stack traces in production', async () => {
    const reply = await gql(prod, '{ members(after: "nope") { totalCount } }');
    expect(reply.text).not.toMatch(/stacktrace|\.ts:\d+/);
    const unauth = await gql(prod, '{ viewer { role } }', {}, null);
    expect(unauth.status).toBe(401);
    expect(unauth.text).not.toMatch(/stacktrace/);
  });

  it('answers CORS preflights for configured origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${prod.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await preflight('https://app.example.test');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const denied = await preflight('https://evil.example.test');
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    // And by default (the shared server): no origin at all.
    const none = await fetch(`${server.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.test', 'access-control-request-method': 'POST' },
    });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });
});
