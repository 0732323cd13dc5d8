// SCIM 2.0 requests as three kinds of identity provider write them, for Polis's SCIM handler.
// Shapes follow each provider's published SCIM documentation:
// - Okta: PUT for profile changes, PATCH `{op: "replace", value: {active: false}}` to deactivate,
//   group members removed with a `members[value eq "<id>"]` path; roles (a custom attribute)
//   as one comma-separated string.
// - Entra ID (`azure-scim-v2`): PATCH with capitalised ops on attribute paths (`name.givenName`,
//   `emails[type eq "work"].value`), booleans as the strings "True"/"False", roles as RFC 7643
//   complex values, the enterprise extension. Group operations are lowercase, as Entra sends them
//   to endpoints with the `aadOptscim062020` flag (which Polis's SCIM URL carries).
// - Generic SCIM 2.0: RFC 7644 as written.
import type { DirectoryType } from '../../oracles/polis.js';
import type { ScimRequest } from './polis.js';

export interface Person {
  /** The identity provider's own id, sent as externalId. */
  key: string;
  givenName: string;
  familyName: string;
  email: string;
  roles?: string[];
  active?: boolean;
}

export interface Dialect {
  type: DirectoryType;
  createUser(p: Person): ScimRequest;
  /** Replaces the whole user (PUT) with these values. */
  replaceUser(id: string, p: Person): ScimRequest;
  /** Changes given name and work email in place (PATCH). */
  patchNameAndEmail(id: string, givenName: string, email: string): ScimRequest;
  setActive(id: string, active: boolean): ScimRequest;
  deleteUser(id: string): ScimRequest;
  createGroup(name: string): ScimRequest;
  renameGroup(id: string, name: string): ScimRequest;
  addMembers(groupId: string, userIds: string[]): ScimRequest;
  removeMember(groupId: string, userId: string): ScimRequest;
  deleteGroup(id: string): ScimRequest;
}

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

const patch = (resource: ScimRequest['resource'], id: string, Operations: Record<string, unknown>[]): ScimRequest => ({
  method: 'PATCH',
  resource,
  id,
  body: { schemas: [PATCH], Operations },
});
const del = (resource: ScimRequest['resource'], id: string): ScimRequest => ({ method: 'DELETE', resource, id });
const members = (ids: string[]) => ids.map((value) => ({ value }));

const okta: Dialect = {
  type: 'okta-scim-v2',
  createUser: (p) => ({ method: 'POST', resource: 'Users', body: oktaUser(p) }),
  replaceUser: (id, p) => ({ method: 'PUT', resource: 'Users', id, body: { ...oktaUser(p), id } }),
  // Okta sends profile changes as a PUT of the whole user; a PATCH from Okta carries `value`
  // objects without paths.
  patchNameAndEmail: (id, givenName, email) =>
    patch('Users', id, [{ op: 'replace', value: { 'name.givenName': givenName, 'emails[type eq "work"].value': email } }]),
  setActive: (id, active) => patch('Users', id, [{ op: 'replace', value: { active } }]),
  deleteUser: (id) => del('Users', id),
  createGroup: (name) => ({ method: 'POST', resource: 'Groups', body: { schemas: [GROUP], displayName: name, members: [] } }),
  renameGroup: (id, name) => patch('Groups', id, [{ op: 'replace', value: { id, displayName: name } }]),
  addMembers: (groupId, ids) => patch('Groups', groupId, [{ op: 'add', path: 'members', value: members(ids) }]),
  removeMember: (groupId, userId) => patch('Groups', groupId, [{ op: 'remove', path: `members[value eq "${userId}"]` }]),
  deleteGroup: (id) => del('Groups', id),
};

function oktaUser(p: Person): Record<string, unknown> {
  return {
    schemas: [USER],
    userName: p.email,
    name: { givenName: p.givenName, familyName: p.familyName },
    emails: [{ primary: true, value: p.email, type: 'work' }],
    displayName: `${p.givenName} ${p.familyName}`,
    locale: 'en-US',
    externalId: p.key,
    groups: [],
    // Okta sends the password it generated when "sync password" is on; Polis drops it.
    password: 'generated-at-okta-1',
    active: p.active ?? true,
    ...(p.roles ? { roles: p.roles.join(', ') } : {}),
  };
}

const entra: Dialect = {
  type: 'azure-scim-v2',
  createUser: (p) => ({ method: 'POST', resource: 'Users', body: entraUser(p) }),
  replaceUser: (id, p) => ({ method: 'PUT', resource: 'Users', id, body: { ...entraUser(p), id } }),
  patchNameAndEmail: (id, givenName, email) =>
    patch('Users', id, [
      { op: 'Replace', path: 'name.givenName', value: givenName },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: email },
    ]),
  setActive: (id, active) => patch('Users', id, [{ op: 'Replace', path: 'active', value: active ? 'True' : 'False' }]),
  deleteUser: (id) => del('Users', id),
  createGroup: (name) => ({
    method: 'POST',
    resource: 'Groups',
    body: { schemas: [GROUP], externalId: `entra-${name}`, displayName: name, meta: { resourceType: 'Group' } },
  }),
  renameGroup: (id, name) => patch('Groups', id, [{ op: 'replace', path: 'displayName', value: name }]),
  addMembers: (groupId, ids) => patch('Groups', groupId, [{ op: 'add', path: 'members', value: members(ids) }]),
  removeMember: (groupId, userId) => patch('Groups', groupId, [{ op: 'remove', path: 'members', value: members([userId]) }]),
  deleteGroup: (id) => del('Groups', id),
};

function entraUser(p: Person): Record<string, unknown> {
  return {
    schemas: [USER, ENTERPRISE],
    externalId: p.key,
    userName: p.email,
    active: p.active === false ? 'False' : 'True',
    displayName: `${p.givenName} ${p.familyName}`,
    emails: [{ primary: true, type: 'work', value: p.email }],
    meta: { resourceType: 'User' },
    name: { formatted: `${p.givenName} ${p.familyName}`, familyName: p.familyName, givenName: p.givenName },
    ...(p.roles
      ? {
          roles: p.roles.map((value, i) => ({
            primary: i === 0,
            type: 'WindowsAzureActiveDirectoryRole',
            value,
            display: value[0]!.toUpperCase() + value.slice(1),
          })),
        }
      : {}),
    [ENTERPRISE]: { department: 'Engineering', employeeNumber: p.key },
  };
}

const generic: Dialect = {
  type: 'generic-scim-v2',
  createUser: (p) => ({ method: 'POST', resource: 'Users', body: genericUser(p) }),
  replaceUser: (id, p) => ({ method: 'PUT', resource: 'Users', id, body: { ...genericUser(p), id } }),
  patchNameAndEmail: (id, givenName, email) =>
    patch('Users', id, [
      { op: 'replace', path: 'name.givenName', value: givenName },
      { op: 'replace', path: 'emails[type eq "work"].value', value: email },
    ]),
  setActive: (id, active) => patch('Users', id, [{ op: 'replace', path: 'active', value: active }]),
  deleteUser: (id) => del('Users', id),
  createGroup: (name) => ({ method: 'POST', resource: 'Groups', body: { schemas: [GROUP], displayName: name } }),
  // A PUT replaces the group; Polis takes its displayName.
  renameGroup: (id, name) => ({ method: 'PUT', resource: 'Groups', id, body: { schemas: [GROUP], id, displayName: name } }),
  addMembers: (groupId, ids) => patch('Groups', groupId, [{ op: 'add', path: 'members', value: members(ids) }]),
  removeMember: (groupId, userId) => patch('Groups', groupId, [{ op: 'remove', path: 'members', value: members([userId]) }]),
  deleteGroup: (id) => del('Groups', id),
};

function genericUser(p: Person): Record<string, unknown> {
  return {
    schemas: [USER],
    userName: p.email,
    name: { givenName: p.givenName, familyName: p.familyName },
    emails: [{ value: p.email, type: 'work', primary: true }],
    phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
    active: p.active ?? true,
    ...(p.roles ? { roles: p.roles } : {}),
  };
}

export const DIALECTS: Dialect[] = [okta, entra, generic];
