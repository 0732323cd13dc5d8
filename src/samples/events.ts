// Realistic sample events, shaped as each provider sends them, for `npm run trigger` and the
// benchmarks. Ids are stable by default so a sequence of triggers tells one story (create,
// update, delete the same member); secrets inside payloads are random on every call.
import { randomBytes } from 'node:crypto';

export interface SampleIds {
  /** Polis tenant and product. */
  tenant: string;
  product: string;
  directoryId: string;
  userId: string;
  groupId: string;
  clientId: string;
  /** Stytch ids. */
  organizationId: string;
  memberId: string;
  samlConnectionId: string;
  oidcConnectionId: string;
  scimConnectionId: string;
  scimGroupId: string;
  memberGroupId: string;
}

export const DEFAULT_IDS: SampleIds = {
  tenant: 'acme',
  product: 'portal',
  directoryId: 'dir-9f1c2a7e-3b4d-4c5e-8f60-718293a4b5c6',
  userId: 'usr-4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f60718',
  groupId: 'grp-0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d',
  clientId: '2f6c1a9e8d7b4c3a5e0f1d2c3b4a59687e6d5c4b',
  organizationId: 'organization-live-6c2d1f0e-9b8a-4c7d-8e6f-5a4b3c2d1e0f',
  memberId: 'member-live-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
  samlConnectionId: 'saml-connection-live-7d6c5b4a-3f2e-4d1c-8b0a-9f8e7d6c5b4a',
  oidcConnectionId: 'oidc-connection-live-3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f',
  scimConnectionId: 'scim-connection-live-5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
  scimGroupId: 'scim-group-live-8b9c0d1e-2f3a-4b4c-8d5e-6f7a8b9c0d1e',
  memberGroupId: 'scim-member-group-live-2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e',
};

const secret = () => randomBytes(24).toString('hex');

// --- Ory Polis ----------------------------------------------------------------------------

type PolisBuilder = (ids: SampleIds) => Record<string, unknown>;

const ssoData = (ids: SampleIds) => ({
  name: 'Acme Okta SAML',
  description: 'SSO for Acme employees',
  clientID: ids.clientId,
  clientSecret: secret(),
  provider: 'acme.okta.example',
  friendlyProviderName: 'Okta',
});

const dsyncData = (ids: SampleIds) => ({ id: ids.directoryId, name: 'Acme Okta Directory', type: 'okta-scim-v2' });

const userData = (ids: SampleIds, active = true) => ({
  id: ids.userId,
  first_name: 'Grace',
  last_name: 'Hopper',
  email: 'grace@acme.example',
  active,
  roles: ['engineer'],
  raw: {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'grace@acme.example',
    name: { givenName: 'Grace', familyName: 'Hopper' },
    emails: [{ primary: true, value: 'grace@acme.example', type: 'work' }],
    active,
  },
});

const groupData = (ids: SampleIds) => ({
  id: ids.groupId,
  name: 'developers',
  raw: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'developers', members: [] },
});

/**
 * What an `*.updated` sample changes, so that each one sent is a real change the service
 * applies and pushes as UPDATED (a repeat of the created body would be `unchanged`). The time
 * makes every send differ from the one before.
 */
export const updatedLabel = (text: string, at = new Date()) => `${text} (updated ${at.toISOString().slice(11, 23)})`;

const connectionEvent = (event: string, data: (ids: SampleIds) => object): PolisBuilder => (ids) => ({
  event,
  tenant: ids.tenant,
  product: ids.product,
  data: data(ids),
});

const directoryEvent = (event: string, data: (ids: SampleIds) => object): PolisBuilder => (ids) => ({
  event,
  tenant: ids.tenant,
  product: ids.product,
  directory_id: ids.directoryId,
  data: data(ids),
});

/** Membership events carry the user without roles, a trimmed raw, and the group. */
const membershipData = (ids: SampleIds) => {
  const { id, first_name, last_name, email, active } = userData(ids);
  return { id, first_name, last_name, email, active, raw: { userName: email }, group: groupData(ids) };
};

export const POLIS_SAMPLES: Record<string, PolisBuilder> = {
  'sso.created': connectionEvent('sso.created', ssoData),
  'sso.activated': connectionEvent('sso.activated', ssoData),
  'sso.deactivated': connectionEvent('sso.deactivated', ssoData),
  'sso.deleted': connectionEvent('sso.deleted', ssoData),
  'dsync.created': connectionEvent('dsync.created', dsyncData),
  'dsync.activated': connectionEvent('dsync.activated', dsyncData),
  'dsync.deactivated': connectionEvent('dsync.deactivated', dsyncData),
  'dsync.deleted': connectionEvent('dsync.deleted', dsyncData),
  'user.created': directoryEvent('user.created', (ids) => userData(ids)),
  'user.updated': directoryEvent('user.updated', (ids) => {
    const user = userData(ids);
    const lastName = updatedLabel(user.last_name);
    return { ...user, last_name: lastName, raw: { ...user.raw, name: { ...user.raw.name, familyName: lastName } } };
  }),
  'user.deleted': directoryEvent('user.deleted', (ids) => userData(ids, false)),
  'group.created': directoryEvent('group.created', groupData),
  'group.updated': directoryEvent('group.updated', (ids) => {
    const group = groupData(ids);
    const name = updatedLabel(group.name);
    return { ...group, name, raw: { ...group.raw, displayName: name } };
  }),
  'group.deleted': directoryEvent('group.deleted', groupData),
  'group.user_added': directoryEvent('group.user_added', membershipData),
  'group.user_removed': directoryEvent('group.user_removed', membershipData),
};

// --- Stytch B2B ---------------------------------------------------------------------------

export const STYTCH_OBJECT_TYPES = [
  'organization',
  'member',
  'saml_connection',
  'oidc_connection',
  'scim_group',
  'scim_member_group',
] as const;
type StytchObjectType = (typeof STYTCH_OBJECT_TYPES)[number];
const ACTIONS = { created: 'CREATE', updated: 'UPDATE', deleted: 'DELETE' } as const;
export type StytchSource = 'DASHBOARD' | 'DIRECT' | 'SCIM';

const stytchObjects: Record<StytchObjectType, { key: string; id: (ids: SampleIds) => string; body: (ids: SampleIds) => object }> = {
  organization: {
    key: 'organization',
    id: (ids) => ids.organizationId,
    body: (ids) => ({
      organization_id: ids.organizationId,
      organization_name: 'Acme Corporation',
      organization_slug: 'acme',
      organization_logo_url: '',
      email_allowed_domains: ['acme.example'],
      email_invites: 'ALL_ALLOWED',
      email_jit_provisioning: 'RESTRICTED',
      auth_methods: 'ALL_ALLOWED',
      allowed_auth_methods: [],
      mfa_policy: 'OPTIONAL',
      sso_active_connections: [],
      sso_default_connection_id: null,
      sso_jit_provisioning: 'ALL_ALLOWED',
      trusted_metadata: {},
    }),
  },
  member: {
    key: 'member',
    id: (ids) => ids.memberId,
    body: (ids) => ({
      member_id: ids.memberId,
      organization_id: ids.organizationId,
      email_address: 'ada@acme.example',
      email_address_verified: true,
      name: 'Ada Lovelace',
      status: 'active',
      is_admin: false,
      is_breakglass: false,
      mfa_enrolled: false,
      roles: [{ role_id: 'stytch_member', sources: [{ type: 'direct_assignment', details: {} }] }],
      sso_registrations: [],
      oauth_registrations: [],
      trusted_metadata: {},
      untrusted_metadata: {},
    }),
  },
  saml_connection: {
    key: 'saml_connection',
    id: (ids) => ids.samlConnectionId,
    body: (ids) => ({
      connection_id: ids.samlConnectionId,
      organization_id: ids.organizationId,
      display_name: 'Acme Okta SAML',
      status: 'active',
      idp_entity_id: 'http://www.okta.com/exk1acme',
      idp_sso_url: 'https://acme.okta.example/app/sso/saml',
      acs_url: `https://test.stytch.com/v1/b2b/sso/callback/${ids.samlConnectionId}`,
      audience_uri: `https://test.stytch.com/v1/b2b/sso/callback/${ids.samlConnectionId}`,
      attribute_mapping: { email: 'email', full_name: 'name' },
      signing_certificates: [],
      verification_certificates: [],
    }),
  },
  oidc_connection: {
    key: 'oidc_connection',
    id: (ids) => ids.oidcConnectionId,
    body: (ids) => ({
      connection_id: ids.oidcConnectionId,
      organization_id: ids.organizationId,
      display_name: 'Acme Entra OIDC',
      status: 'active',
      issuer: 'https://login.microsoftonline.example/acme/v2.0',
      client_id: 'acme-oidc-client',
      client_secret: secret(),
      authorization_url: 'https://login.microsoftonline.example/acme/oauth2/v2.0/authorize',
      token_url: 'https://login.microsoftonline.example/acme/oauth2/v2.0/token',
      userinfo_url: 'https://graph.microsoft.example/oidc/userinfo',
      jwks_url: 'https://login.microsoftonline.example/acme/discovery/v2.0/keys',
      redirect_url: `https://test.stytch.com/v1/b2b/sso/callback/${ids.oidcConnectionId}`,
    }),
  },
  scim_group: {
    key: 'scim_group',
    id: (ids) => ids.scimGroupId,
    body: (ids) => ({
      group_id: ids.scimGroupId,
      group_name: 'engineering',
      connection_id: ids.scimConnectionId,
      organization_id: ids.organizationId,
    }),
  },
  scim_member_group: {
    key: 'scim_group_membership',
    id: (ids) => ids.memberGroupId,
    body: (ids) => ({
      member_group_id: ids.memberGroupId,
      group_id: ids.scimGroupId,
      member_id: ids.memberId,
      connection_id: ids.scimConnectionId,
      organization_id: ids.organizationId,
    }),
  },
};

/** The visible field an `.updated` sample changes (see updatedLabel). */
const UPDATED_FIELD: Partial<Record<StytchObjectType, string>> = {
  organization: 'organization_name',
  member: 'name',
  saml_connection: 'display_name',
  oidc_connection: 'display_name',
  scim_group: 'group_name',
};

/** `member.created`, `scim_group.deleted`, ... */
export const STYTCH_SAMPLE_NAMES = STYTCH_OBJECT_TYPES.flatMap((type) =>
  Object.keys(ACTIONS).map((action) => `${type}.${action}`),
);

/** RFC 3339 with microseconds, as Stytch sends for non-SCIM events. */
export function stytchTimestamp(date = new Date(), micros = 0): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}${String(micros).padStart(3, '0')}Z`);
}

export function stytchSample(
  name: string,
  options: { ids?: SampleIds; source?: StytchSource; timestamp?: string } = {},
): Record<string, unknown> | undefined {
  const [type, action] = name.split('.') as [StytchObjectType, keyof typeof ACTIONS];
  const object = stytchObjects[type];
  const stytchAction = ACTIONS[action];
  if (!object || !stytchAction) return undefined;
  const ids = options.ids ?? DEFAULT_IDS;
  const event: Record<string, unknown> = {
    action: stytchAction,
    event_id: `event-live-${randomBytes(8).toString('hex')}`,
    id: object.id(ids),
    object_type: type,
    project_id: 'project-live-00000000-0000-4000-8000-000000000000',
    source: options.source ?? (type.startsWith('scim') ? 'SCIM' : 'DIRECT'),
    timestamp: options.timestamp ?? stytchTimestamp(),
    vertical: 'B2B',
  };
  if (stytchAction !== 'DELETE') {
    const body = object.body(ids) as Record<string, unknown>;
    const field = UPDATED_FIELD[type];
    if (stytchAction === 'UPDATE' && field) body[field] = updatedLabel(String(body[field]));
    event[object.key] = body;
  }
  return event;
}

export function polisSample(name: string, ids: SampleIds = DEFAULT_IDS): Record<string, unknown> | undefined {
  return POLIS_SAMPLES[name]?.(ids);
}

/** The object a sample carries (Polis: `data`; Stytch: the body under its type), to edit. */
export function sampleObject(source: 'polis' | 'stytch' | 'workos', event: Record<string, unknown>): Record<string, unknown> | undefined {
  const key = source !== 'stytch' ? 'data' : stytchObjects[event.object_type as StytchObjectType]?.key;
  const value = key === undefined ? undefined : event[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

// --- WorkOS -------------------------------------------------------------------------------

export interface WorkosIds {
  organizationId: string;
  connectionId: string;
  directoryId: string;
  userId: string;
  groupId: string;
}

export const WORKOS_DEFAULT_IDS: WorkosIds = {
  organizationId: 'org_01HZ8Q3VJ4K2M6N8P0R2T4V6X8',
  connectionId: 'conn_01HZ8Q4A1B3C5D7E9F1G3H5J7K',
  directoryId: 'directory_01HZ8Q4M2N4P6Q8R0S2T4V6W8X',
  userId: 'directory_user_01HZ8Q5B3C5D7E9F1G3H5J7K9M',
  groupId: 'directory_group_01HZ8Q5N4P6Q8R0S2T4V6W8X0Y',
};

/** `event_01` and 24 more of the Crockford base32 ULIDs WorkOS ids are made of. */
const workosEventId = () => {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  return `event_01${Array.from(randomBytes(24), (b) => alphabet[b % 32]).join('')}`;
};

const workosOrganization = (ids: WorkosIds, at: string, name = 'Foo Corp') => ({
  object: 'organization',
  id: ids.organizationId,
  name,
  allow_profiles_outside_organization: false,
  domains: [{ object: 'organization_domain', id: 'org_domain_01HZ8Q3W5K7M9N1P3R5T7V9X1Z', domain: 'foo-corp.example', state: 'verified' }],
  created_at: '2026-01-15T09:30:00.000Z',
  updated_at: at,
});

const workosConnection = (ids: WorkosIds, at: string, state: string) => ({
  object: 'connection',
  id: ids.connectionId,
  organization_id: ids.organizationId,
  connection_type: 'OktaSAML',
  name: 'Foo Corp Okta',
  state,
  domains: [{ object: 'connection_domain', id: 'conn_domain_01HZ8Q4B2C4D6E8F0G2H4J6K8M', domain: 'foo-corp.example' }],
  created_at: '2026-01-15T09:35:00.000Z',
  updated_at: at,
});

const workosDirectory = (ids: WorkosIds, at: string, state: string) => ({
  object: 'directory',
  id: ids.directoryId,
  organization_id: ids.organizationId,
  external_key: 'UWuccu6o1E0GqkYs',
  name: 'Foo Corp Okta SCIM',
  type: 'okta scim v2.0',
  state,
  domains: [{ object: 'organization_domain', id: 'org_domain_01HZ8Q3W5K7M9N1P3R5T7V9X1Z', domain: 'foo-corp.example' }],
  created_at: '2026-01-15T09:40:00.000Z',
  updated_at: at,
});

const workosUser = (ids: WorkosIds, at: string, lastName = 'Lunceford', state = 'active') => ({
  object: 'directory_user',
  id: ids.userId,
  idp_id: '00u1e8mutl6wlH3lL4x7',
  directory_id: ids.directoryId,
  organization_id: ids.organizationId,
  first_name: 'Blair',
  last_name: lastName,
  email: 'blair@foo-corp.example',
  state,
  role: { slug: 'member' },
  roles: [{ slug: 'member' }],
  custom_attributes: { department: 'Engineering', job_title: 'Developer Success Engineer' },
  raw_attributes: {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: 'blair@foo-corp.example',
    name: { givenName: 'Blair', familyName: lastName },
    emails: [{ type: 'work', value: 'blair@foo-corp.example', primary: true }],
    active: state === 'active',
    title: 'Developer Success Engineer',
  },
  created_at: '2026-01-15T10:00:00.000Z',
  updated_at: at,
});

const workosGroup = (ids: WorkosIds, at: string, name = 'Engineering') => ({
  object: 'directory_group',
  id: ids.groupId,
  idp_id: '00g1e8mutl6wlH3lL4x8',
  directory_id: ids.directoryId,
  organization_id: ids.organizationId,
  name,
  raw_attributes: { displayName: name },
  created_at: '2026-01-15T10:05:00.000Z',
  updated_at: at,
});

type WorkosBuilder = (ids: WorkosIds, at: string) => object;

const WORKOS_DATA: Record<string, WorkosBuilder> = {
  'organization.created': (ids, at) => workosOrganization(ids, at),
  'organization.updated': (ids, at) => workosOrganization(ids, at, updatedLabel('Foo Corp', new Date(at))),
  'organization.deleted': (ids, at) => workosOrganization(ids, at),
  'connection.activated': (ids, at) => workosConnection(ids, at, 'active'),
  'connection.deactivated': (ids, at) => workosConnection(ids, at, 'inactive'),
  'connection.deleted': (ids, at) => workosConnection(ids, at, 'inactive'),
  'dsync.activated': (ids, at) => workosDirectory(ids, at, 'active'),
  'dsync.deleted': (ids, at) => workosDirectory(ids, at, 'deleting'),
  'dsync.user.created': (ids, at) => workosUser(ids, at),
  'dsync.user.updated': (ids, at) => {
    const lastName = updatedLabel('Lunceford', new Date(at));
    // An update carries what changed as it was before.
    return { ...workosUser(ids, at, lastName), previous_attributes: { last_name: 'Lunceford' } };
  },
  'dsync.user.deleted': (ids, at) => workosUser(ids, at, 'Lunceford', 'inactive'),
  'dsync.group.created': (ids, at) => workosGroup(ids, at),
  'dsync.group.updated': (ids, at) => ({ ...workosGroup(ids, at, updatedLabel('Engineering', new Date(at))), previous_attributes: { name: 'Engineering' } }),
  'dsync.group.deleted': (ids, at) => workosGroup(ids, at),
  'dsync.group.user_added': (ids, at) => ({ directory_id: ids.directoryId, user: workosUser(ids, at), group: workosGroup(ids, at) }),
  'dsync.group.user_removed': (ids, at) => ({ directory_id: ids.directoryId, user: workosUser(ids, at), group: workosGroup(ids, at) }),
};

/** Every WorkOS event the trigger can send, in the order --list shows them. */
export const WORKOS_SAMPLE_NAMES = Object.keys(WORKOS_DATA);

export function workosSample(name: string, ids: WorkosIds = WORKOS_DEFAULT_IDS, now = new Date()): Record<string, unknown> | undefined {
  const build = WORKOS_DATA[name];
  if (!build) return undefined;
  const at = now.toISOString();
  return { object: 'event', id: workosEventId(), event: name, data: build(ids, at), created_at: at };
}
