// Roles an app grants from a member's groups (Tenant.roleRules): a rule names a group by its
// provider id or its exact name and gives a role with a priority, lowest number first, as
// WorkOS's "role of the highest-priority group" does. Pure: what the member's live groups are
// is the caller's to say (a removed or ended membership, or a deleted group, does not count).

import type { RoleRule } from '../db/vocabulary.js';

export type { RoleRule };

export interface GroupIdentity {
  externalId: string;
  name: string | null;
}

/** Every role the member's groups give, by priority then rule order, each once. */
export function appRolesOf(rules: readonly RoleRule[], groups: readonly GroupIdentity[]): string[] {
  const ids = new Set(groups.map((g) => g.externalId));
  const names = new Set(groups.flatMap((g) => (g.name === null ? [] : [g.name])));
  const given = rules
    .map((rule, index) => ({ rule, index }))
    .filter(({ rule }) => ids.has(rule.group) || names.has(rule.group))
    .sort((a, b) => a.rule.priority - b.rule.priority || a.index - b.index);
  return [...new Set(given.map(({ rule }) => rule.role))];
}

/** The role of the member's highest-priority group, else the tenant's default, else null. */
export function appRoleOf(rules: readonly RoleRule[], defaultRole: string | null, groups: readonly GroupIdentity[]): string | null {
  return appRolesOf(rules, groups)[0] ?? defaultRole;
}
