// Builds whole tenants through the real webhook path: Stytch events shaped as Stytch sends
// them, signed with Svix, POSTed to the running server. GraphQL tests then read them back.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { stytchTimestamp } from '../../src/samples/events.js';
import { query } from './db.js';
import { sendPolis, sendStytch, type TestServer } from './server.js';

const tagged = (prefix: string, tag: string, i: number | string) => `${prefix}-test-${tag}-${i}`;

type StytchObject = 'organization' | 'member' | 'saml_connection' | 'oidc_connection' | 'scim_group' | 'scim_member_group';

export function stytchEvent(
  objectType: StytchObject,
  action: 'CREATE' | 'UPDATE' | 'DELETE',
  id: string,
  body?: Record<string, unknown>,
  at = new Date(),
): Record<string, unknown> {
  const key = objectType === 'scim_member_group' ? 'scim_group_membership' : objectType;
  return {
    action,
    event_id: `event-test-${randomBytes(8).toString('hex')}`,
    id,
    object_type: objectType,
    project_id: 'project-test-00000000-0000-4000-8000-000000000000',
    source: objectType.startsWith('scim') ? 'SCIM' : 'DIRECT',
    timestamp: stytchTimestamp(at),
    vertical: 'B2B',
    ...(body && action !== 'DELETE' ? { [key]: body } : {}),
  };
}

/** Sends events with bounded concurrency, failing on any non-200. */
export async function sendAll(server: TestServer, events: Record<string, unknown>[], concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < events.length) {
      const event = events[next++] as Record<string, unknown>;
      const reply = await sendStytch(server, event);
      if (reply.status !== 200) throw new Error(`webhook answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface SeededOrg {
  tag: string;
  organizationId: string;
  name: string;
  /** tenants.id */
  tenantUuid: string;
  memberIds: string[];
  emails: string[];
  groupIds: string[];
  groupNames: string[];
  samlConnectionId: string;
  oidcConnectionId: string;
  /** [member index, group index] pairs. */
  memberships: [number, number][];
}

export interface OrgShape {
  members?: number;
  groups?: number;
  /** Defaults to member i in group i % groups. */
  memberships?: [number, number][];
  /** A payload secret to put in the OIDC connection (client_secret). */
  oidcSecret?: string;
  name?: string;
}

export const memberEmail = (tag: string, i: number) => `user${String(i).padStart(4, '0')}.${tag}@example.test`;

/** An organization with SAML and OIDC connections, members, SCIM groups and memberships. */
export async function seedStytchOrg(server: TestServer, shape: OrgShape = {}): Promise<SeededOrg> {
  const tag = randomBytes(4).toString('hex');
  const organizationId = tagged('organization', tag, 'org');
  const name = shape.name ?? `Org ${tag}`;
  const scim = tagged('scim-connection', tag, 'scim');
  const nMembers = shape.members ?? 3;
  const nGroups = shape.groups ?? 2;
  const memberIds = Array.from({ length: nMembers }, (_, i) => tagged('member', tag, i));
  const emails = memberIds.map((_, i) => memberEmail(tag, i));
  const groupIds = Array.from({ length: nGroups }, (_, i) => tagged('scim-group', tag, i));
  const groupNames = groupIds.map((_, i) => `group ${i} ${tag}`);
  const memberships =
    shape.memberships ?? (nGroups > 0 ? memberIds.map((_, i) => [i, i % nGroups] as [number, number]) : []);
  const samlConnectionId = tagged('saml-connection', tag, 'saml');
  const oidcConnectionId = tagged('oidc-connection', tag, 'oidc');

  await sendAll(server, [
    stytchEvent('organization', 'CREATE', organizationId, {
      organization_id: organizationId,
      organization_name: name,
      organization_slug: `org-${tag}`,
    }),
  ]);
  await sendAll(server, [
    stytchEvent('saml_connection', 'CREATE', samlConnectionId, {
      connection_id: samlConnectionId,
      organization_id: organizationId,
      display_name: `SAML ${tag}`,
      status: 'active',
    }),
    stytchEvent('oidc_connection', 'CREATE', oidcConnectionId, {
      connection_id: oidcConnectionId,
      organization_id: organizationId,
      display_name: `OIDC ${tag}`,
      status: 'pending',
      client_id: `client-${tag}`,
      ...(shape.oidcSecret ? { client_secret: shape.oidcSecret } : {}),
    }),
    ...memberIds.map((id, i) =>
      stytchEvent('member', 'CREATE', id, {
        member_id: id,
        organization_id: organizationId,
        email_address: emails[i],
        name: `Person ${i} ${tag}`,
        status: i % 5 === 4 ? 'invited' : 'active',
        roles: [{ role_id: 'stytch_member' }],
      }),
    ),
    ...groupIds.map((id, i) =>
      stytchEvent('scim_group', 'CREATE', id, {
        group_id: id,
        group_name: groupNames[i],
        connection_id: scim,
        organization_id: organizationId,
      }),
    ),
  ]);
  await sendAll(
    server,
    memberships.map(([m, g]) =>
      stytchEvent('scim_member_group', 'CREATE', tagged('scim-member-group', tag, `${m}-${g}`), {
        member_group_id: tagged('scim-member-group', tag, `${m}-${g}`),
        group_id: groupIds[g],
        member_id: memberIds[m],
        connection_id: scim,
        organization_id: organizationId,
      }),
    ),
  );
  const [row] = await query(
    server.database,
    sql`select id from tenants where provider = 'STYTCH' and external_id = ${organizationId}`,
  );
  return {
    tag,
    organizationId,
    name,
    tenantUuid: row?.id as string,
    memberIds,
    emails,
    groupIds,
    groupNames,
    samlConnectionId,
    oidcConnectionId,
    memberships,
  };
}

/** Polis users of one directory, sent in batches (one transaction each, so equal created_at). */
export async function seedPolisDirectory(
  server: TestServer,
  options: { users: number; batch: number; user?: (i: number) => Record<string, unknown> },
): Promise<{ tenant: string; product: string; emails: string[] }> {
  const tag = randomBytes(4).toString('hex');
  const tenant = `polis-${tag}`;
  const product = 'portal';
  const directory_id = `dir-${tag}`;
  const emails = Array.from({ length: options.users }, (_, i) => memberEmail(tag, i));
  const events = emails.map((email, i) => ({
    event: 'user.created',
    tenant,
    product,
    directory_id,
    data: { id: `usr-${tag}-${i}`, first_name: 'User', last_name: String(i), email, active: true, raw: {}, ...options.user?.(i) },
  }));
  for (let i = 0; i < events.length; i += options.batch) {
    const reply = await sendPolis(server, events.slice(i, i + options.batch));
    if (reply.status !== 200) throw new Error(`Polis webhook answered ${reply.status}: ${JSON.stringify(reply.body)}`);
  }
  return { tenant, product, emails };
}
