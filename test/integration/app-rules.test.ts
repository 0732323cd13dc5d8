// Roles and attributes an app reads (issue 33, first part): role rules and attribute mappings
// set by an admin, and each member's appRole, appRoles and attributes under them, over the
// running service on both backends. Members and groups come from signed webhooks: Stytch's,
// Polis's (SCIM raw with the enterprise extension under its URN) and WorkOS's, signed by
// WorkOS's own SDK.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/graphql/ids.js';
import { workosSample, type WorkosIds } from '../../src/samples/events.js';
import { backend } from '../support/backend.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { gql, gqlData, sendPolis, sendWorkos, startTestServer, tenantKey, type TestServer } from '../support/server.js';

let server: TestServer;
let a: SeededOrg;
let b: SeededOrg;

beforeAll(async () => {
  server = await startTestServer();
  // Org a: four members; member 0 in groups 0 and 1, member 1 in group 1, member 2 in group 2, member 3 in none.
  [a, b] = await Promise.all([
    seedStytchOrg(server, { members: 4, groups: 3, memberships: [[0, 0], [0, 1], [1, 1], [2, 2]] }),
    seedStytchOrg(server, { members: 2, groups: 1, memberships: [[0, 0]] }),
  ]);
});
afterAll(() => server?.close());

const SET_RULES = `mutation ($t: ID!, $rules: [RoleRuleInput!]!, $d: String) {
  setRoleRules(tenantId: $t, rules: $rules, defaultRole: $d) { roleRules { group role priority } defaultRole } }`;
const SET_MAPPINGS = `mutation ($t: ID!, $m: [AttributeMappingInput!]!) {
  setAttributeMappings(tenantId: $t, mappings: $m) { attributeMappings { name path } } }`;
const ROLES = `query ($t: ID!) { members(tenantId: $t, filter: { includeDeleted: true }) { edges { node { email appRole appRoles } } } }`;

type RolesView = { members: { edges: { node: { email: string; appRole: string | null; appRoles: string[] } }[] } };
const rolesByEmail = async (org: SeededOrg, key = server.adminKey) => {
  const data = await gqlData<RolesView>(server, ROLES, { t: toGlobalId('Tenant', org.tenantUuid) }, key);
  return Object.fromEntries(data.members.edges.map((e) => [e.node.email, { appRole: e.node.appRole, appRoles: e.node.appRoles }]));
};

describe(`role rules and attribute mappings (${backend})`, () => {
  it('gives each member the role of its highest-priority live group, every role by priority, else the default', async () => {
    const t = toGlobalId('Tenant', a.tenantUuid);
    // Group 0 by its exact name, group 1 by its provider id; two rules for group 1.
    const rules = [
      { group: a.groupIds[1]!, role: 'editor', priority: 20 },
      { group: a.groupNames[0]!, role: 'admin', priority: 10 },
      { group: a.groupIds[1]!, role: 'reviewer', priority: 20 },
      { group: 'no such group', role: 'ghost', priority: 0 },
    ];
    const set = await gqlData<{ setRoleRules: { roleRules: unknown[]; defaultRole: string | null } }>(server, SET_RULES, { t, rules, d: 'viewer' });
    expect(set.setRoleRules).toEqual({ roleRules: rules, defaultRole: 'viewer' });
    expect(await rolesByEmail(a)).toEqual({
      [a.emails[0]!]: { appRole: 'admin', appRoles: ['admin', 'editor', 'reviewer'] },
      [a.emails[1]!]: { appRole: 'editor', appRoles: ['editor', 'reviewer'] },
      [a.emails[2]!]: { appRole: 'viewer', appRoles: [] },
      [a.emails[3]!]: { appRole: 'viewer', appRoles: [] },
    });
    // Asked alone, appRole is answered by the compiled statement (graphql/filters.ts, appRoleSql):
    // the same roles; and members filter by it.
    const compiled = await gqlData<{ members: { edges: { node: { email: string; appRole: string | null } }[] } }>(
      server,
      'query ($t: ID!) { members(tenantId: $t) { edges { node { email appRole } } } }',
      { t },
    );
    expect(Object.fromEntries(compiled.members.edges.map((e) => [e.node.email, e.node.appRole]))).toEqual({
      [a.emails[0]!]: 'admin',
      [a.emails[1]!]: 'editor',
      [a.emails[2]!]: 'viewer',
      [a.emails[3]!]: 'viewer',
    });
    const filtered = async (role: string) =>
      (
        await gqlData<{ members: { edges: { node: { email: string } }[] } }>(
          server,
          'query ($t: ID!, $r: String!) { members(tenantId: $t, filter: { appRole: $r }) { edges { node { email } } } }',
          { t, r: role },
        )
      ).members.edges.map((e) => e.node.email).sort();
    expect(await filtered('editor')).toEqual([a.emails[1]]);
    expect(await filtered('viewer')).toEqual([a.emails[2], a.emails[3]].sort());
    expect(await filtered('reviewer')).toEqual([]);
    // Another tenant's members are untouched by these rules.
    expect(Object.values(await rolesByEmail(b))).toEqual([
      { appRole: null, appRoles: [] },
      { appRole: null, appRoles: [] },
    ]);
  });

  it('follows live memberships and groups: a removed membership, a deleted group or member no longer counts', async () => {
    const later = new Date(Date.now() + 1000);
    await sendAll(server, [
      // Member 0 leaves group 0 (its admin role), group 1 is deleted, member 3 is deleted.
      stytchEvent('scim_member_group', 'DELETE', `scim-member-group-test-${a.tag}-0-0`, undefined, later),
      stytchEvent('scim_group', 'DELETE', a.groupIds[1]!, undefined, later),
      stytchEvent('member', 'DELETE', a.memberIds[3]!, undefined, later),
    ]);
    expect(await rolesByEmail(a)).toEqual({
      [a.emails[0]!]: { appRole: 'viewer', appRoles: [] },
      [a.emails[1]!]: { appRole: 'viewer', appRoles: [] },
      [a.emails[2]!]: { appRole: 'viewer', appRoles: [] },
      [a.emails[3]!]: { appRole: null, appRoles: [] },
    });
  });

  it('is set by admins only; a tenant key reads its own tenant rules and cannot change them', async () => {
    const keyA = await tenantKey(server, a.tenantUuid);
    const t = toGlobalId('Tenant', a.tenantUuid);
    for (const [query, variables] of [
      [SET_RULES, { t, rules: [], d: null }],
      [SET_MAPPINGS, { t, m: [] }],
      [SET_RULES, { t: toGlobalId('Tenant', b.tenantUuid), rules: [], d: null }],
    ] as const) {
      const reply = await gql(server, query, variables, keyA);
      expect(reply.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const own = await gqlData<{ viewer: { tenant: { roleRules: unknown[]; defaultRole: string } } }>(
      server,
      '{ viewer { tenant { roleRules { role } defaultRole } } }',
      {},
      keyA,
    );
    expect(own.viewer.tenant.defaultRole).toBe('viewer');
    expect(await rolesByEmail(a, keyA)).toEqual(await rolesByEmail(a));
  });

  it('refuses bad rules and mappings with BAD_USER_INPUT and changes nothing', async () => {
    const t = toGlobalId('Tenant', b.tenantUuid);
    const bad: [string, Record<string, unknown>][] = [
      [SET_RULES, { t, rules: [{ group: '', role: 'x', priority: 1 }] }],
      [SET_RULES, { t, rules: [{ group: 'g', role: 'x\u0000', priority: 1 }] }],
      [SET_RULES, { t, rules: Array.from({ length: 201 }, (_, i) => ({ group: `g${i}`, role: 'r', priority: i })) }],
      [SET_MAPPINGS, { t, m: [{ name: 'a', path: 'x..y' }] }],
      [SET_MAPPINGS, { t, m: [{ name: 'a', path: 'x' }, { name: 'a', path: 'y' }] }],
      [SET_MAPPINGS, { t, m: [{ name: '', path: 'x' }] }],
    ];
    for (const [query, variables] of bad) {
      const reply = await gql(server, query, variables);
      expect(reply.errors?.[0]?.extensions?.code, JSON.stringify(variables).slice(0, 80)).toBe('BAD_USER_INPUT');
    }
    const after = await gqlData<{ tenant: { roleRules: unknown[]; attributeMappings: { name: string }[] } }>(
      server,
      'query ($t: ID!) { tenant(id: $t) { roleRules { role } attributeMappings { name } } }',
      { t },
    );
    expect(after.tenant.roleRules).toEqual([]);
    // Still the provider's defaults.
    expect(after.tenant.attributeMappings.map((m) => m.name)).toContain('department');
  });

  it('reads attributes by the provider defaults: the SCIM enterprise extension (Stytch, Polis) and WorkOS custom attributes', async () => {
    // Stytch: the member's SCIM registration carries the enterprise extension.
    await sendAll(server, [
      stytchEvent('member', 'UPDATE', a.memberIds[2]!, {
        member_id: a.memberIds[2],
        organization_id: a.organizationId,
        email_address: a.emails[2],
        name: 'Person 2',
        status: 'active',
        scim_registration: {
          connection_id: 'scim-connection',
          registration_id: 'registration-1',
          scim_attributes: { title: 'Engineer', enterprise_extension: { department: 'R&D', cost_center: 'CC-7', employee_number: '', manager: { value: 'boss-1' } } },
        },
      }, new Date(Date.now() + 2000)),
    ]);
    const stytch = await gqlData<{ members: { edges: { node: { attributes: unknown } }[] } }>(
      server,
      'query ($t: ID!, $e: String!) { members(tenantId: $t, filter: { email: $e }) { edges { node { attributes } } } }',
      { t: toGlobalId('Tenant', a.tenantUuid), e: a.emails[2] },
    );
    expect(stytch.members.edges[0]?.node.attributes).toEqual({ department: 'R&D', employeeNumber: '', costCenter: 'CC-7', manager: 'boss-1', title: 'Engineer' });

    // Polis: its SCIM user as `raw`, the extension under its URN (as Okta and Entra send it).
    const tenant = `polis-${randomBytes(4).toString('hex')}`;
    const reply = await sendPolis(server, {
      event: 'user.created',
      tenant,
      product: 'portal',
      directory_id: `dir-${tenant}`,
      data: {
        id: 'usr-1', first_name: 'Ada', last_name: 'Lovelace', email: `ada@${tenant}.example`, active: true,
        raw: {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
          userName: `ada@${tenant}.example`,
          title: 'Analyst',
          'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Mathematics', division: 'Engines', manager: { value: 'babbage' } },
        },
      },
    });
    expect(reply.status).toBe(200);
    const polis = await gqlData<{ tenants: { edges: { node: { members: { edges: { node: { attributes: unknown } }[] } } }[] } }>(
      server,
      'query ($x: String!) { tenants(filter: { externalId: $x }) { edges { node { members { edges { node { attributes } } } } } } }',
      { x: tenant },
    );
    expect(polis.tenants.edges[0]?.node.members.edges[0]?.node.attributes).toEqual({ department: 'Mathematics', division: 'Engines', manager: 'babbage', title: 'Analyst' });

    // WorkOS: a directory user's custom attributes, the event signed by WorkOS's SDK.
    const tag = randomBytes(5).toString('hex').toUpperCase();
    const ids: WorkosIds = {
      organizationId: `org_01RULES${tag}`,
      connectionId: `conn_01RULES${tag}`,
      directoryId: `directory_01RULES${tag}`,
      userId: `directory_user_01RULES${tag}`,
      groupId: `directory_group_01RULES${tag}`,
    };
    const sample = workosSample('dsync.user.created', ids, new Date())!;
    const user = { ...(sample.data as object), custom_attributes: { department_name: 'Sales', job_title: 'Lead', manager_email: 'm@example.com', cost_center_name: 'EMEA' } };
    expect((await sendWorkos(server, { ...sample, data: user })).status).toBe(200);
    const workos = await gqlData<{ tenants: { edges: { node: { members: { edges: { node: { attributes: unknown } }[] } } }[] } }>(
      server,
      'query ($x: String!) { tenants(filter: { externalId: $x }) { edges { node { members { edges { node { attributes } } } } } } }',
      { x: ids.organizationId },
    );
    expect(workos.tenants.edges[0]?.node.members.edges[0]?.node.attributes).toEqual({ department: 'Sales', costCenter: 'EMEA', manager: 'm@example.com', title: 'Lead' });
  });

  it('reads attributes by the mappings a tenant set, a URN segment whole and list indexes, and nothing redaction removed', async () => {
    const t = toGlobalId('Tenant', a.tenantUuid);
    const mappings = [
      { name: 'dept', path: 'scim_registration.scim_attributes.enterprise_extension.department' },
      { name: 'firstRole', path: 'roles.0.role_id' },
      { name: 'nothing', path: 'no.such.field' },
      { name: 'registration', path: 'scim_registration.registration_id' },
    ];
    const set = await gqlData<{ setAttributeMappings: { attributeMappings: unknown[] } }>(server, SET_MAPPINGS, { t, m: mappings });
    expect(set.setAttributeMappings.attributeMappings).toEqual(mappings);
    const data = await gqlData<{ members: { edges: { node: { attributes: unknown } }[] } }>(
      server,
      'query ($t: ID!, $e: String!) { members(tenantId: $t, filter: { email: $e }) { edges { node { attributes } } } }',
      { t, e: a.emails[2] },
    );
    expect(data.members.edges[0]?.node.attributes).toEqual({ dept: 'R&D', registration: 'registration-1' });
  });
});
