// The values the directory's columns hold: the schema (schema.ts) checks its columns against
// them, and the directory core, the adapters and the API speak them.

/** Every provider the directory holds objects of (the database checks the column against it). */
export const PROVIDERS = ['POLIS', 'STYTCH', 'WORKOS'] as const;
export type Provider = (typeof PROVIDERS)[number];
export type EntityKind = 'TENANT' | 'CONNECTION' | 'MEMBER' | 'GROUP' | 'MEMBERSHIP';
export type ConnectionKind = 'SAML' | 'OIDC' | 'DIRECTORY';
export type ConnectionStatus = 'ACTIVE' | 'INACTIVE' | 'PENDING';
export type MemberStatus = 'ACTIVE' | 'INACTIVE' | 'INVITED' | 'PENDING';
export type ChangeAction = 'CREATED' | 'UPDATED' | 'ACTIVATED' | 'DEACTIVATED' | 'DELETED';

/**
 * What became of a delivery, the first that holds: `rejected` (at least one of its events
 * could not be read: the delivery is kept for replay, its other events applied), `applied`,
 * `stale` (older than what is stored), `ignored` (every event of a kind not applied), else
 * `unchanged`. `applying`: a delivery with many events, stored and being applied in parts
 * (one left so by a process that stopped is applied again whole; see src/unfinished.ts).
 */
export type DeliveryStatus = 'rejected' | 'applied' | 'stale' | 'unchanged' | 'ignored' | 'applying';

/** A rule of Tenant.roleRules (directory/app-roles.ts applies them). */
export interface RoleRule {
  /** A group's externalId, or its exact name. */
  group: string;
  role: string;
  /** Lower wins; rules of equal priority keep their order in the list. */
  priority: number;
}

/** A mapping of Tenant.attributeMappings (directory/attributes.ts reads them). */
export interface AttributeMapping {
  name: string;
  path: string;
}
