// What of a Polis object a tenant key is shown as `raw` (admin keys see all of it, secrets
// removed). An allow-list of what a tenant's own settings or directory page shows: profile
// fields of the SCIM user and group, the connection's public setup. Left out: SCIM extensions
// other than the enterprise user (custom attributes are a company's own, often internal),
// addresses, entitlements and certificates of users, group member lists (the API lists
// memberships), SCIM and webhook endpoints' secrets and Google tokens of directories, and
// certificates and secrets of SSO connections.
import type { Shape } from '../../lib/pick.js';
import type { PublicRawShapes } from '../types.js';

const scimMultiValued: Shape = { value: true, type: true, primary: true, display: true };

const scimUser: Shape = {
  schemas: true,
  id: true,
  externalId: true,
  userName: true,
  name: { formatted: true, familyName: true, givenName: true, middleName: true, honorificPrefix: true, honorificSuffix: true },
  displayName: true,
  nickName: true,
  title: true,
  userType: true,
  preferredLanguage: true,
  locale: true,
  timezone: true,
  active: true,
  emails: scimMultiValued,
  phoneNumbers: scimMultiValued,
  roles: scimMultiValued,
  groups: { value: true, display: true, type: true },
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': {
    employeeNumber: true,
    costCenter: true,
    organization: true,
    division: true,
    department: true,
    manager: { value: true, displayName: true },
  },
};

const scimGroup: Shape = { schemas: true, id: true, externalId: true, displayName: true };

/** Polis's webhook user: its own fields, and the SCIM resource it came from as `raw`. */
const user: Shape = { id: true, email: true, first_name: true, last_name: true, active: true, roles: true, raw: scimUser };

export const polisPublicRaw: PublicRawShapes = {
  TENANT: {},
  // SSO connections (SAML, OIDC) and directories share the entity; each has its own fields.
  CONNECTION: {
    // What sso.* events carry: name, description, clientID, provider, friendlyProviderName.
    clientID: true,
    provider: true,
    friendlyProviderName: true,
    name: true,
    label: true,
    description: true,
    tenant: true,
    product: true,
    defaultRedirectUrl: true,
    redirectUrl: true,
    sortOrder: true,
    deactivated: true,
    forceAuthn: true,
    identifierFormat: true,
    metadataUrl: true,
    idpMetadata: { entityID: true, loginType: true, provider: true, friendlyProviderName: true, sso: true, slo: true, validTo: true },
    oidcProvider: { provider: true, friendlyProviderName: true, discoveryUrl: true, clientId: true },
    id: true,
    type: true,
    scim: { path: true, endpoint: true },
  },
  MEMBER: user,
  GROUP: { id: true, name: true, raw: scimGroup },
  MEMBERSHIP: {},
};
