// A tenant key may sit in a browser, so `raw` shows it what a frontend needs of the provider's
// object (an allow-list per provider and entity), not everything the provider sent: internal
// metadata, MFA phone numbers, custom SCIM extensions, addresses, directory endpoints and
// certificates stay out. Admin keys (the company's backend) see the whole object, secrets
// removed. The same holds for what subscriptions push.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../../src/graphql/ids.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { stytchEvent } from '../support/directory.js';
import { subscribe } from '../support/live.js';
import { gqlData, sendPolis, sendStytch, startTestServer, tenantKey, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const tag = () => randomBytes(4).toString('hex');
type Raw = Record<string, unknown>;
const ok = (reply: { status: number; body: unknown }) => expect(reply.status, JSON.stringify(reply.body)).toBe(200);

async function tenantUuid(provider: string, externalId: string): Promise<string> {
  const [row] = await query(server.database, sql`select id from tenants where provider = ${provider} and external_id = ${externalId}`);
  return row!.id as string;
}

const membersRaw = async (key: string | undefined) =>
  (await gqlData<{ members: { edges: { node: { raw: Raw } }[] } }>(server, '{ members(first: 10) { edges { node { raw } } } }', {}, key))
    .members.edges.map((e) => e.node.raw);

describe(`what raw shows a tenant key (${backend})`, () => {
  it('a Stytch member: profile and roles, without trusted metadata, MFA phone, password or fields Stytch may add', async () => {
    const t = tag();
    const org = `organization-test-${t}`;
    ok(await sendStytch(server, stytchEvent('organization', 'CREATE', org, {
      organization_id: org, organization_name: 'Raw Co', organization_slug: `raw-${t}`,
      trusted_metadata: { billing_tier: 'gold', internal_account: 'acct-991' },
    })));
    const member = {
      member_id: `member-test-${t}`, organization_id: org, email_address: `ada-${t}@raw.example`, name: 'Ada',
      status: 'active', email_address_verified: true, is_admin: false, is_breakglass: false, mfa_enrolled: true,
      roles: [{ role_id: 'stytch_member', sources: [{ type: 'direct_assignment', details: { assigned_by: 'ops' } }] }],
      untrusted_metadata: { theme: 'dark' },
      trusted_metadata: { salary_band: 'L7', internal_notes: 'under review' },
      mfa_phone_number: '+15555550123', totp_registration_id: `totp-${t}`, member_password_id: `pw-${t}`,
      retired_email_addresses: [{ email_address: `old-${t}@raw.example` }],
      oauth_registrations: [{ provider_subject: 'google-123', profile_picture_url: 'https://x.example/p.png' }],
      sso_registrations: [{ connection_id: 'saml-connection-test-1', external_id: 'ext-1', registration_id: 'reg-1', sso_attributes: { ssn: '000-00-0000' } }],
      a_field_stytch_adds_tomorrow: 'unknown',
    };
    ok(await sendStytch(server, stytchEvent('member', 'CREATE', member.member_id, member)));
    const key = await tenantKey(server, await tenantUuid('STYTCH', org), 'raw stytch');

    const [seen] = await membersRaw(key);
    expect(seen).toEqual({
      member_id: member.member_id, organization_id: org, email_address: member.email_address, name: 'Ada', status: 'active',
      email_address_verified: true, is_admin: false, is_breakglass: false, mfa_enrolled: true,
      roles: [{ role_id: 'stytch_member', sources: [{ type: 'direct_assignment' }] }],
      untrusted_metadata: { theme: 'dark' },
      sso_registrations: [{ connection_id: 'saml-connection-test-1', external_id: 'ext-1', registration_id: 'reg-1' }],
    });
    const tenant = await gqlData<{ tenants: { edges: { node: { raw: Raw } }[] } }>(server, '{ tenants(first: 5) { edges { node { raw } } } }', {}, key);
    expect(tenant.tenants.edges[0]!.node.raw).toEqual({ organization_id: org, organization_name: 'Raw Co', organization_slug: `raw-${t}` });

    // The admin key sees the whole object.
    const adminRaw = await adminMemberRaw(member.member_id);
    expect(adminRaw).toMatchObject({ trusted_metadata: member.trusted_metadata, mfa_phone_number: member.mfa_phone_number, a_field_stytch_adds_tomorrow: 'unknown' });
  });

  it('a Polis user: SCIM profile and the enterprise extension, without custom extensions, addresses or entitlements', async () => {
    const t = tag();
    const tenant = `raw-${t}`;
    const scim = {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      userName: `grace-${t}@raw.example`,
      name: { givenName: 'Grace', familyName: 'Hopper' },
      emails: [{ value: `grace-${t}@raw.example`, type: 'work', primary: true }],
      title: 'Rear Admiral',
      active: true,
      addresses: [{ type: 'home', streetAddress: '1 Home Street' }],
      entitlements: [{ value: 'prod-db-root' }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Navy', employeeNumber: '7', secretClearance: 'TS' },
      'urn:ietf:params:scim:schemas:extension:acme:2.0:User': { performanceRating: 'needs improvement' },
    };
    ok(await sendPolis(server, {
      event: 'user.created', tenant, product: 'portal', directory_id: `dir-${t}`,
      data: { id: `usr-${t}`, first_name: 'Grace', last_name: 'Hopper', email: scim.userName, active: true, roles: ['admiral'], raw: scim },
    }));
    const key = await tenantKey(server, await tenantUuid('POLIS', tenant), 'raw polis');
    const [seen] = await membersRaw(key);
    expect(seen).toEqual({
      id: `usr-${t}`, first_name: 'Grace', last_name: 'Hopper', email: scim.userName, active: true, roles: ['admiral'],
      raw: {
        schemas: scim.schemas, userName: scim.userName, name: scim.name, emails: scim.emails, title: 'Rear Admiral', active: true,
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Navy', employeeNumber: '7' },
      },
    });
    expect(await adminMemberRaw(`usr-${t}`)).toMatchObject({ raw: { addresses: scim.addresses, 'urn:ietf:params:scim:schemas:extension:acme:2.0:User': {} } });
  });

  it("Polis connections: an SSO connection's and a directory's public setup, without endpoints or certificates", async () => {
    const t = tag();
    const tenant = `raw-conn-${t}`;
    ok(await sendPolis(server, {
      event: 'sso.created', tenant, product: 'portal',
      data: {
        name: 'Okta SAML', description: 'staff', clientID: `client-${t}`, provider: 'okta.example', friendlyProviderName: 'Okta',
        idpMetadata: { entityID: 'http://okta.example/e', publicKey: 'MIIB-not-really', thumbprint: 'ab12', validTo: '2030-01-01' },
      },
    }));
    ok(await sendPolis(server, {
      event: 'dsync.created', tenant, product: 'portal',
      data: { id: `dir-${t}`, name: 'Okta SCIM', type: 'okta-scim-v2', scim: { path: `/api/scim/v2.0/dir-${t}`, endpoint: 'https://polis.example/scim' }, webhook: { endpoint: 'https://internal.example/hook' } },
    }));
    const key = await tenantKey(server, await tenantUuid('POLIS', tenant), 'raw polis conn');
    const seen = await gqlData<{ connections: { edges: { node: { kind: string; raw: Raw } }[] } }>(
      server, '{ connections(first: 10) { edges { node { kind raw } } } }', {}, key);
    const byKind = Object.fromEntries(seen.connections.edges.map((e) => [e.node.kind, e.node.raw]));
    expect(byKind.SAML ?? byKind.OIDC).toEqual({
      name: 'Okta SAML', description: 'staff', clientID: `client-${t}`, provider: 'okta.example', friendlyProviderName: 'Okta',
      idpMetadata: { entityID: 'http://okta.example/e', validTo: '2030-01-01' },
    });
    expect(byKind.DIRECTORY).toEqual({ id: `dir-${t}`, name: 'Okta SCIM', type: 'okta-scim-v2', scim: { path: `/api/scim/v2.0/dir-${t}`, endpoint: 'https://polis.example/scim' } });
  });

  it('a subscription with a tenant key is pushed the same part', async () => {
    const t = tag();
    const org = `organization-test-${t}`;
    ok(await sendStytch(server, stytchEvent('organization', 'CREATE', org, { organization_id: org, organization_name: 'Live Raw' })));
    const key = await tenantKey(server, await tenantUuid('STYTCH', org), 'raw live');
    const live = subscribe<{ memberChanged: { member: { raw: Raw } } }>(server.url, key, 'subscription { memberChanged { member { raw } } }');
    try {
      // Subscribed once its first change can arrive: a warm-up member, then the one we look at.
      const base = { organization_id: org, status: 'active', trusted_metadata: { salary_band: 'L9' }, mfa_phone_number: '+15555550199' };
      let i = 0;
      while (live.events.length === 0 && i < 200) {
        ok(await sendStytch(server, stytchEvent('member', 'CREATE', `member-test-${t}-w${i}`, { ...base, member_id: `member-test-${t}-w${i}`, email_address: `w${i}-${t}@raw.example` })));
        i++;
        await new Promise((r) => setTimeout(r, 50));
      }
      const [first] = await live.waitFor(1);
      expect(first!.memberChanged.member.raw).toEqual({ member_id: expect.any(String), organization_id: org, email_address: expect.any(String), status: 'active' });
    } finally {
      await live.close();
    }
  });
});

async function adminMemberRaw(externalId: string): Promise<unknown> {
  const [row] = await query(server.database, sql`select id from members where external_id = ${externalId}`);
  const id = toGlobalId('Member', row!.id as string);
  const data = await gqlData<{ node: { raw: unknown } | null }>(server, 'query ($id: ID!) { node(id: $id) { ... on Member { raw } } }', { id });
  return data.node?.raw;
}
