// The WHERE conditions of each list: the viewer's tenant scope, the deleted-row rule, and the
// filter a client passed. Each returns plain SQL conditions so the same ones serve a top-level
// list, a nested one and its count.
import { and, eq, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import type { Scope } from '../auth/viewer.js';
import { connections, groups, members, memberships, memberSearchText, tenantRules, tenants } from '../db/schema.js';
import { oneOf, uuidArray } from '../db/uuid-array.js';
import type {
  ConnectionFilter,
  GroupFilter,
  MemberFilter,
  TenantFilter,
} from './generated/resolvers.js';
import { textProblem } from '../lib/storable-json.js';
import { badInput } from './errors.js';
import { expectGlobalId } from './ids.js';
import type { ListTable } from './pages.js';

/** Longest `search` taken: a person's search, not a document (the work grows with it). */
export const MAX_SEARCH_LENGTH = 100;
/** Longest email (RFC 5321's path limit) and provider id (as webhooks are held to) in a filter. */
const MAX_EMAIL_LENGTH = 320;
const MAX_ID_LENGTH = 256;

/**
 * A string a client sent, checked before it meets SQL: no longer than `max`, and without what
 * Postgres text cannot hold (NUL, half a surrogate pair), which would otherwise fail the
 * statement as an internal error. BAD_USER_INPUT naming the argument, with nothing run.
 */
export function textArgument(value: string, argument: string, max: number): string {
  if (value.length > max) throw badInput(`${argument} is ${value.length} characters long; it may have at most ${max}`, argument);
  if (textProblem(value)) {
    throw badInput(`${argument} holds a character no text can (NUL, or half of a surrogate pair)`, argument);
  }
  return value;
}

/** `%text%` for ILIKE, with the pattern characters in `text` matched literally. */
const contains = (text: string, argument = 'filter.search') =>
  `%${textArgument(text, argument, MAX_SEARCH_LENGTH).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const id = (value: string) => textArgument(value, 'filter.externalId', MAX_ID_LENGTH);

/**
 * Confines a list to one tenant: the viewer's own for a tenant key (whatever was asked), or
 * the `tenantId` argument for an admin. Null: no confinement.
 */
export function tenantScope(table: ListTable, scope: Scope): SQL[] {
  if (scope === null) return [];
  return [oneOf(table === tenants ? tenants.id : (table as typeof members).tenantId, scope)];
}

/** Deleted rows are hidden unless asked for; asking for status DELETED means only those. */
function deletedRule(table: ListTable, includeDeleted: boolean | null | undefined, onlyDeleted: boolean): SQL[] {
  if (onlyDeleted) return [isNotNull(table.deletedAt)];
  return includeDeleted ? [] : [isNull(table.deletedAt)];
}

export function tenantConditions(filter: TenantFilter | null | undefined): SQL[] {
  const out = deletedRule(tenants, filter?.includeDeleted, false);
  if (filter?.provider) out.push(eq(tenants.provider, filter.provider));
  if (filter?.externalId) out.push(eq(tenants.externalId, id(filter.externalId)));
  if (filter?.search) {
    const pattern = contains(filter.search);
    out.push(sql`(${tenants.name} ilike ${pattern} or ${tenants.slug} ilike ${pattern})`);
  }
  return out;
}

export function connectionConditions(filter: ConnectionFilter | null | undefined): SQL[] {
  const status = filter?.status;
  const out = deletedRule(connections, filter?.includeDeleted, status === 'DELETED');
  if (filter?.kind) out.push(eq(connections.kind, filter.kind));
  if (filter?.externalId) out.push(eq(connections.externalId, id(filter.externalId)));
  if (status && status !== 'DELETED') out.push(eq(connections.status, status), isNull(connections.deletedAt));
  if (filter?.search) out.push(sql`${connections.name} ilike ${contains(filter.search)}`);
  return out;
}

/**
 * Memberships that count. Without `includeDeleted`, a live membership of a live member in a
 * live group: a membership ends when it is removed, and also when its member or its group is
 * deleted (providers do not always send the removal: Polis sends none when it deletes a user
 * or a group). With `includeDeleted`, every membership, ended or not.
 */
const liveMembership = (includeDeleted: boolean | null | undefined) =>
  includeDeleted
    ? sql`true`
    : sql`${memberships.deletedAt} is null
        and exists (select 1 from ${members} as mm where mm.id = ${memberships.memberId} and mm.deleted_at is null)
        and exists (select 1 from ${groups} as mg where mg.id = ${memberships.groupId} and mg.deleted_at is null)`;

/** Members of the group `group` (an SQL expression for its id). */
export const memberOfGroup = (group: SQL, includeDeleted?: boolean | null) =>
  sql`${members.id} in (select ${memberships.memberId} from ${memberships}
    where ${and(sql`${memberships.groupId} = ${group}`, liveMembership(includeDeleted))})`;

/** Groups the member `member` (an SQL expression for its id) belongs to. */
export const groupOfMember = (member: SQL, includeDeleted?: boolean | null) =>
  sql`${groups.id} in (select ${memberships.groupId} from ${memberships}
    where ${and(sql`${memberships.memberId} = ${member}`, liveMembership(includeDeleted))})`;

/**
 * The same memberships as groupOfMember and memberOfGroup, for a parent row in scope (its id and
 * deleted_at as SQL): the parent's liveness is read from the row and the listed row's from its
 * own column, where the general form looks each of them up again for every membership. The
 * compiled read path (src/read) lists nested groups and members this way.
 */
export const groupOfMemberRow = (member: { id: SQL; deletedAt: SQL }, includeDeleted?: boolean | null) =>
  includeDeleted
    ? sql`${groups.id} in (select ${memberships.groupId} from ${memberships} where ${memberships.memberId} = ${member.id})`
    : sql`${member.deletedAt} is null and ${groups.deletedAt} is null and ${groups.id} in (select ${memberships.groupId} from ${memberships}
        where ${memberships.memberId} = ${member.id} and ${memberships.deletedAt} is null)`;

export const memberOfGroupRow = (group: { id: SQL; deletedAt: SQL }, includeDeleted?: boolean | null) =>
  includeDeleted
    ? sql`${members.id} in (select ${memberships.memberId} from ${memberships} where ${memberships.groupId} = ${group.id})`
    : sql`${group.deletedAt} is null and ${members.deletedAt} is null and ${members.id} in (select ${memberships.memberId} from ${memberships}
        where ${memberships.groupId} = ${group.id} and ${memberships.deletedAt} is null)`;

/**
 * A group or member named in a filter must itself be visible: a membership row of tenant A
 * that points at tenant B's group must not let A's key probe B's ids.
 */
const visibleRow = (table: typeof groups | typeof members, id: string, scope: Scope) =>
  scope === null
    ? sql`true`
    : scope.length === 1
      ? sql`exists (select 1 from ${table} as named where named.id = ${id}::uuid and named.tenant_id = ${scope[0]}::uuid)`
      : sql`exists (select 1 from ${table} as named where named.id = ${id}::uuid and named.tenant_id = any(${uuidArray(scope)}))`;

/**
 * A member's app role (directory/app-roles.ts, appRoleOf) in SQL, for the member row whose
 * columns are given: the role of the first rule, by priority then position, naming a group it
 * is live in (a live membership of a live group; by the group's externalId or exact name), else
 * its tenant's default role; null for a deleted member. Filters by appRole use it, and the
 * compiled read path answers Member.appRole with it.
 */
export const appRoleSql = (member: { id: SQL; tenantId: SQL; deletedAt: SQL }) => sql`case when ${member.deletedAt} is null then coalesce(
    (select r.rule ->> 'role' from ${tenantRules} as tr cross join lateral jsonb_array_elements(tr.role_rules) with ordinality as r (rule, n)
      where tr.tenant_id = ${member.tenantId} and exists (
        select 1 from ${memberships} as am join ${groups} as ag on ag.id = am.group_id
        where am.member_id = ${member.id} and am.deleted_at is null and ag.deleted_at is null
          and (ag.external_id = r.rule ->> 'group' or ag.name = r.rule ->> 'group'))
      order by (r.rule ->> 'priority')::int, r.n limit 1),
    (select dr.default_role from ${tenantRules} as dr where dr.tenant_id = ${member.tenantId})) end`;

/** The filter with its status left out: countsByStatus counts every status the rest matches. */
export const withoutStatus = (filter: MemberFilter | null | undefined): MemberFilter | null | undefined =>
  filter?.status ? { ...filter, status: null } : filter;

/** `scope`: the viewer's tenants (null: all), for ids named in the filter. */
export function memberConditions(filter: MemberFilter | null | undefined, scope: Scope): SQL[] {
  const status = filter?.status;
  const out = deletedRule(members, filter?.includeDeleted, status === 'DELETED');
  if (status && status !== 'DELETED') out.push(eq(members.status, status), isNull(members.deletedAt));
  if (filter?.externalId) out.push(eq(members.externalId, id(filter.externalId)));
  if (filter?.email) out.push(sql`lower(${members.email}) = lower(${textArgument(filter.email, 'filter.email', MAX_EMAIL_LENGTH)})`);
  if (filter?.groupId) {
    const group = expectGlobalId(filter.groupId, 'Group', 'filter.groupId');
    out.push(memberOfGroup(sql`${group}::uuid`, filter.includeDeleted), visibleRow(groups, group, scope));
  }
  if (filter?.search) {
    const pattern = contains(filter.search);
    out.push(sql`${memberSearchText(members)} ilike ${pattern}`);
  }
  if (filter?.appRole) {
    const role = textArgument(filter.appRole, 'filter.appRole', MAX_ID_LENGTH);
    out.push(sql`${appRoleSql({ id: sql`${members.id}`, tenantId: sql`${members.tenantId}`, deletedAt: sql`${members.deletedAt}` })} = ${role}`);
  }
  return out;
}

export function groupConditions(filter: GroupFilter | null | undefined, scope: Scope): SQL[] {
  const out = deletedRule(groups, filter?.includeDeleted, false);
  if (filter?.externalId) out.push(eq(groups.externalId, id(filter.externalId)));
  if (filter?.memberId) {
    const member = expectGlobalId(filter.memberId, 'Member', 'filter.memberId');
    out.push(groupOfMember(sql`${member}::uuid`, filter.includeDeleted), visibleRow(members, member, scope));
  }
  if (filter?.search) out.push(sql`${groups.name} ilike ${contains(filter.search)}`);
  return out;
}
