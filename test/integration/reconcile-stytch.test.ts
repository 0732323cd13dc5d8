// Reconciliation against Stytch's B2B API, through a stand-in speaking its documented routes and
// shapes (Stytch cannot run here): what the stand-in holds is the truth, webhooks are sent for
// some of it only, and after each run the directory must serve exactly that truth.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { ProviderError } from '../../src/reconcile/provider-http.js';
import { reconcileTenant, type ReconcileReport } from '../../src/reconcile/run.js';
import { createStytchPuller } from '../../src/sources/stytch/reconcile.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { sendAll, stytchEvent } from '../support/directory.js';
import { gql, gqlData, startTestServer, type TestServer } from '../support/server.js';
import { startStytchApi, type StytchApi } from '../support/stytch-api.js';

const projectId = `project-test-${randomBytes(8).toString('hex')}`;
const secret = `secret-test-${randomBytes(16).toString('hex')}`;
const oidcSecret = `oidc-client-secret-${randomBytes(12).toString('hex')}`;
const org = `organization-test-${randomBytes(6).toString('hex')}`;
const scimId = `scim-connection-test-${org}`;
const tenant = { provider: 'STYTCH' as const, externalId: org, product: '' };

let server: TestServer;
let api: StytchApi;

beforeAll(async () => {
  api = await startStytchApi(projectId, secret);
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
  await api?.close();
});

const reconcile = (options: { secret?: string; dryRun?: boolean } = {}) =>
  reconcileTenant(
    server.database.db,
    createDirectoryStore(server.database.db),
    // Two per page, so members and groups span several pages.
    createStytchPuller({ apiUrl: api.url, projectId, secret: options.secret ?? secret, pageLimit: 2, http: { sleep: async () => {}, attempts: 3 } }),
    tenant,
    { dryRun: options.dryRun ?? false },
  );

const member = (i: number, extra: Record<string, unknown> = {}) => ({
  member_id: `member-test-${org}-${i}`,
  organization_id: org,
  email_address: `person${i}@${org}.example`,
  name: `Person ${i}`,
  status: 'active',
  roles: [{ role_id: 'stytch_member', sources: [{ type: 'direct_assignment', details: {} }] }],
  trusted_metadata: {},
  untrusted_metadata: {},
  ...extra,
});
const group = (i: number, name = `Team ${i}`) => ({ group_id: `scim-group-test-${org}-${i}`, group_name: name, organization_id: org, connection_id: scimId });

async function lastSeq(): Promise<number> {
  const [row] = await query(server.database, sql`select coalesce(max(seq), 0)::int as seq from changes`);
  return Number(row!.seq);
}

interface Served {
  members: string[];
  groups: string[];
  connections: string[];
}

/** What the service serves for the organization, as comparable lines. */
async function served(): Promise<Served> {
  const [row] = await query(server.database, sql`select id from tenants where provider = 'STYTCH' and external_id = ${org}`);
  const t = Buffer.from(`Tenant:${String(row!.id)}`).toString('base64url');
  const data = await gqlData<{
    members: { edges: { node: { externalId: string; email: string; name: string; status: string } }[] };
    groups: { edges: { node: { externalId: string; name: string } }[] };
    connections: { edges: { node: { externalId: string; kind: string; status: string; name: string } }[] };
  }>(
    server,
    `query ($t: ID!) {
      members(tenantId: $t, first: 100) { edges { node { externalId email name status } } }
      groups(tenantId: $t, first: 100) { edges { node { externalId name } } }
      connections(tenantId: $t, first: 100) { edges { node { externalId kind status name } } }
    }`,
    { t },
  );
  return {
    members: data.members.edges.map(({ node: m }) => `${m.externalId} ${m.email} ${m.name} ${m.status}`).sort(),
    groups: data.groups.edges.map(({ node: g }) => `${g.externalId} ${g.name}`).sort(),
    connections: data.connections.edges.map(({ node: c }) => `${c.externalId} ${c.kind} ${c.status} ${c.name}`).sort(),
  };
}

/** The same lines from what the stand-in holds, mapped as docs/operations.md says Stytch maps. */
function truth(): Served {
  const status = (s: unknown) => (s === 'active' ? 'ACTIVE' : s === 'invited' ? 'INVITED' : s === 'pending' ? 'PENDING' : 'INACTIVE');
  const connection = (kind: string) => (c: Record<string, unknown>) =>
    `${String(c.connection_id)} ${kind} ${c.status === 'active' ? 'ACTIVE' : c.status === 'pending' ? 'PENDING' : 'INACTIVE'} ${String(c.display_name)}`;
  const { state } = api;
  return {
    members: [...state.members.values()]
      .filter((m) => m.status !== 'deleted')
      .map((m) => `${String(m.member_id)} ${String(m.email_address)} ${String(m.name)} ${status(m.status)}`)
      .sort(),
    groups: [...state.groups.values()].map((g) => `${String(g.group_id)} ${String(g.group_name)}`).sort(),
    connections: [
      ...[...state.saml.values()].map(connection('SAML')),
      ...[...state.oidc.values()].map(connection('OIDC')),
      ...[...state.scim.values()].map(connection('DIRECTORY')),
    ].sort(),
  };
}

const total = (report: ReconcileReport, column: 'created' | 'updated' | 'ended' | 'unchanged' | 'newer') =>
  Object.values(report.counts).reduce((n, c) => n + c[column], 0);

describe(`reconciliation with Stytch's B2B API (${backend})`, () => {
  it('brings in the members, connections and groups whose webhooks never came, secrets redacted', async () => {
    const organization = { organization_id: org, organization_name: 'Initech', organization_slug: 'initech' };
    api.state.organizations.set(org, organization);
    for (let i = 0; i < 5; i++) api.state.members.set(`member-test-${org}-${i}`, member(i, i === 4 ? { status: 'invited' } : {}));
    api.state.saml.set(`saml-connection-test-${org}`, { connection_id: `saml-connection-test-${org}`, organization_id: org, display_name: 'Okta', status: 'active', idp_entity_id: 'https://idp.example/okta' });
    api.state.oidc.set(`oidc-connection-test-${org}`, { connection_id: `oidc-connection-test-${org}`, organization_id: org, display_name: 'Google', status: 'pending', client_id: 'client-1', client_secret: oidcSecret });
    api.state.scim.set(org, { connection_id: scimId, organization_id: org, display_name: 'Entra ID', status: 'active', identity_provider: 'microsoft-entra' });
    for (let i = 0; i < 3; i++) api.state.groups.set(`scim-group-test-${org}-${i}`, group(i));
    // Only the organization's own webhook arrived, and one membership (memberships come only by webhook).
    await sendAll(server, [stytchEvent('organization', 'CREATE', org, organization)]);
    await sendAll(server, [
      stytchEvent('scim_member_group', 'CREATE', `scim-member-group-test-${org}`, {
        member_group_id: `scim-member-group-test-${org}`,
        group_id: group(0).group_id,
        member_id: member(0).member_id,
        connection_id: scimId,
        organization_id: org,
      }),
    ]);

    const before = await lastSeq();
    const report = await reconcile();
    expect(await served()).toEqual(truth());
    expect(report.counts.MEMBER.created).toBe(5);
    expect(report.counts.GROUP.created).toBe(3);
    expect(report.counts.CONNECTION.created).toBe(3);
    expect(total(report, 'ended')).toBe(0);
    // Memberships are not listed by Stytch's API: the one that came by webhook is left alone.
    expect(report.stillThere).toBe(0);
    const [membership] = await query(server.database, sql`select deleted_at from memberships where external_id = ${`scim-member-group-test-${org}`}`);
    expect(membership!.deleted_at).toBeNull();
    // Member and group placeholders the membership made were filled in: 11 objects appeared.
    expect((await lastSeq()) - before).toBe(11);
    const leaked = await query(server.database, sql`select count(*)::int as n from connections where raw::text like ${`%${oidcSecret}%`}`);
    expect(Number(leaked[0]!.n)).toBe(0);
    // Members were read two at a time, by cursor.
    expect(api.requests.filter((r) => r.startsWith('POST /v1/b2b/organizations/members/search'))).toHaveLength(3);
  });

  it('a second run changes nothing and pushes nothing', async () => {
    const before = await lastSeq();
    const report = await reconcile();
    expect(total(report, 'created') + total(report, 'updated') + total(report, 'ended')).toBe(0);
    expect(await lastSeq()).toBe(before);
  });

  it('applies what was missed: a rename, a deleted member, a removed group and connection; a dry run first changes nothing', async () => {
    api.state.members.set(member(1).member_id, member(1, { name: 'Person One' }));
    api.state.members.set(member(2).member_id, member(2, { status: 'deleted' }));
    api.state.members.delete(member(3).member_id);
    api.state.groups.set(group(1).group_id, group(1, 'Platform'));
    api.state.groups.delete(group(2).group_id);
    api.state.saml.delete(`saml-connection-test-${org}`);

    const before = await lastSeq();
    const dry = await reconcile({ dryRun: true });
    expect(dry.counts.MEMBER).toMatchObject({ updated: 1, ended: 2 });
    expect(dry.counts.GROUP).toMatchObject({ updated: 1, ended: 1 });
    expect(dry.counts.CONNECTION).toMatchObject({ ended: 1 });
    expect(await lastSeq()).toBe(before);

    const report = await reconcile();
    expect(report.counts.MEMBER).toMatchObject({ updated: 1, ended: 2 });
    expect(report.counts.GROUP).toMatchObject({ updated: 1, ended: 1 });
    expect(report.counts.CONNECTION).toMatchObject({ ended: 1 });
    expect(await served()).toEqual(truth());
  });

  it('waits out a 429 on the second page of members and finishes', async () => {
    api.state.members.set(member(7).member_id, member(7));
    let limited = 0;
    api.interfere = (method, _url, body) => {
      if (method === 'POST' && body.cursor && limited === 0) {
        limited++;
        return { status: 429, body: '{"status_code":429,"error_type":"too_many_requests","error_message":"Too many requests."}', headers: { 'retry-after': '1' } };
      }
      return undefined;
    };
    try {
      const report = await reconcile();
      expect(limited).toBe(1);
      expect(report.counts.MEMBER.created).toBe(1);
    } finally {
      api.interfere = undefined;
    }
    expect(await served()).toEqual(truth());
  });

  it('the admin mutation says what to configure when this instance has no Stytch credentials', async () => {
    const [row] = await query(server.database, sql`select id from tenants where provider = 'STYTCH' and external_id = ${org}`);
    const reply = await gql(server, 'mutation ($t: ID!) { reconcile(source: "stytch", tenantId: $t) { id } }', {
      t: Buffer.from(`Tenant:${String(row!.id)}`).toString('base64url'),
    });
    expect(reply.errors?.[0]).toMatchObject({
      message: 'stytch cannot be reconciled here: set STYTCH_PROJECT_ID and STYTCH_SECRET (the B2B project\'s id and secret)',
      extensions: { code: 'BAD_USER_INPUT', argument: 'source' },
    });
    const [runs] = await query(server.database, sql`select count(*)::int as n from reconcile_runs`);
    expect(Number(runs!.n)).toBe(0);
  });

  it('refused credentials and answers of the wrong shape fail the run and change nothing', async () => {
    api.state.members.set(member(8).member_id, member(8));
    const before = await lastSeq();
    const state = await served();
    const failure = async (run: Promise<unknown>) => {
      const error = await run.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      return error as ProviderError;
    };
    const refused = await failure(reconcile({ secret: 'wrong' }));
    expect(refused.kind).toBe('credentials');
    expect(refused.message).toMatch(/Stytch GET \/v1\/b2b\/organizations\/.*401, the API key was refused \("Unauthorized credentials\."\)/);
    expect(refused.message).not.toContain(secret);

    api.interfere = (method) => (method === 'POST' ? { status: 200, body: '{"members":"soon"}' } : undefined);
    const garbage = await failure(reconcile());
    expect(garbage.kind).toBe('garbage');
    expect(garbage.message).toMatch(/members\/search.*not the shape Stytch documents/);
    api.interfere = undefined;

    expect(await lastSeq()).toBe(before);
    expect(await served()).toEqual(state);
  });
});
